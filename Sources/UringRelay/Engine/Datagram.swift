import CURing
import Glibc

/// A datagram as `IOEngine.receiveDatagramsMultishot` leaves it in a pool buffer — io_uring's
/// multishot recvmsg layout, which the epoll engine writes the same way:
///
///     [0, 16)        struct io_uring_recvmsg_out { namelen, controllen, payloadlen, flags }
///     [16, 44)       the source address (`nameCapacity` bytes reserved, `namelen` used)
///     [44, result)   the payload, cut to the buffer (then flags has MSG_TRUNC and
///                    payloadlen > what is there)
public struct Datagram {
    /// Room reserved for the source address: a sockaddr_in6.
    public static let nameCapacity = MemoryLayout<sockaddr_in6>.size
    public static let headerBytes = MemoryLayout<io_uring_recvmsg_out>.size
    public static let payloadOffset = headerBytes + nameCapacity

    public let base: UnsafeMutableRawPointer
    /// Payload bytes present in the buffer.
    public let payloadLength: Int
    /// The datagram was longer than the buffer: only `payloadLength` of it is here.
    public let truncated: Bool
    /// Length of the source address (0 if the socket gave none).
    public let sourceLength: Int

    /// Reads the layout of a buffer a datagram receive filled (`used` = the completion's
    /// result). Nil if `used` is too small to hold the header (not a datagram buffer).
    @inline(__always)
    public init?(buffer: UnsafeMutableRawPointer, used: Int) {
        guard used >= Self.payloadOffset else { return nil }
        let out = buffer.load(as: io_uring_recvmsg_out.self)
        base = buffer
        payloadLength = used - Self.payloadOffset
        truncated = out.flags & UInt32(CURING_MSG_TRUNC) != 0 || Int(out.payloadlen) > payloadLength
        sourceLength = min(Int(out.namelen), Self.nameCapacity)
    }

    @inline(__always) public var payload: UnsafeMutableRawPointer { base + Self.payloadOffset }
    @inline(__always) public var source: UnsafeRawPointer { UnsafeRawPointer(base + Self.headerBytes) }

    /// The source address as a value (allocates nothing, copies ≤ 28 bytes).
    public var sourceAddress: SocketAddress? {
        guard sourceLength > 0 else { return nil }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { $0.baseAddress!.copyMemory(from: source, byteCount: sourceLength) }
        return SocketAddress(storage: storage, length: socklen_t(sourceLength))
    }
}
