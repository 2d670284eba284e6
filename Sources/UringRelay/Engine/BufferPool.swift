import Glibc

/// A fixed set of equally sized buffers allocated once at start-up, addressed by a 16-bit id
/// (the id io_uring puts in a CQE). One pool per worker; nothing is allocated per chunk.
///
/// The pool only owns the memory. Which buffers are free is the engine's business: the
/// io_uring engine keeps free buffers in a provided buffer ring, the epoll engine in a stack.
public final class BufferPool {
    public let bufferSize: Int
    public let count: Int
    public let base: UnsafeMutableRawPointer
    private let mappedBytes: Int

    /// io_uring buffer ids are 16 bits and a buffer ring holds at most 32768 entries.
    public static let maxCount = 32768

    public init(count: Int, bufferSize: Int) throws(SystemError) {
        precondition(count > 0 && count <= Self.maxCount && count & (count - 1) == 0,
                     "buffer count must be a power of two up to 32768")
        precondition(bufferSize > 0 && bufferSize <= 1 << 20)
        self.count = count
        self.bufferSize = bufferSize
        mappedBytes = count * bufferSize
        // mmap: page-aligned, stable address, zero-filled lazily by the kernel.
        let p = mmap(nil, mappedBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { throw SystemError(operation: "mmap buffer pool of \(count) × \(bufferSize) B (\(mappedBytes >> 20) MiB)", errno: errno) }
        base = p
    }

    deinit { munmap(base, mappedBytes) }

    @inline(__always)
    public func pointer(_ id: UInt16) -> UnsafeMutableRawPointer {
        base + Int(id) &* bufferSize
    }

    public var totalBytes: Int { mappedBytes }
}
