import CURing

/// One finished operation, in the same shape from both engines: the io_uring engine copies
/// CQEs into these, the epoll engine builds them after its syscalls. Flags use io_uring's
/// CQE bits (F_BUFFER with the buffer id in the upper 16 bits, F_MORE for multishot).
public struct Completion: Sendable {
    public var userData: UInt64
    /// Bytes transferred, a new fd, 0, or -errno — as io_uring reports it.
    public var result: Int32
    public var flags: UInt32

    @inline(__always)
    public init(userData: UInt64, result: Int32, flags: UInt32) {
        self.userData = userData
        self.result = result
        self.flags = flags
    }

    @inline(__always) public var kind: OperationKind? { OperationKind(rawValue: UInt8(userData >> 56)) }
    @inline(__always) public var tag: UInt64 { userData & UserData.tagMask }
    /// For a multishot operation: false means this is its last completion and it must be re-armed.
    @inline(__always) public var hasMore: Bool { flags & CURING_CQE_F_MORE != 0 }
    /// The pooled buffer the kernel (or the epoll engine) filled, if any.
    @inline(__always) public var bufferID: UInt16? {
        flags & CURING_CQE_F_BUFFER != 0 ? UInt16(truncatingIfNeeded: flags >> CURING_CQE_BUFFER_SHIFT) : nil
    }

    @inline(__always)
    static func flags(bufferID: UInt16?, more: Bool) -> UInt32 {
        var f: UInt32 = more ? CURING_CQE_F_MORE : 0
        if let id = bufferID { f |= CURING_CQE_F_BUFFER | (UInt32(id) << CURING_CQE_BUFFER_SHIFT) }
        return f
    }
}
