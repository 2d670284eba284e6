import Glibc

/// A fixed-capacity FIFO of outgoing bytes for one socket, allocated once when the connection
/// opens. The bytes at the front may be in a send (the kernel reads them until it completes);
/// appends only ever write behind them, so nothing in flight moves or changes.
final class ByteRing {
    let capacity: Int
    private let storage: UnsafeMutableRawPointer
    private var head = 0
    /// Bytes queued, including any in a send.
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { storage.deallocate() }

    var freeBytes: Int { capacity - count }
    var isEmpty: Bool { count == 0 }

    /// Appends all of `bytes`, or nothing when they do not fit.
    @discardableResult
    func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count <= freeBytes else { return false }
        var tail = (head + count) % capacity
        var offset = 0
        while offset < bytes.count {
            let n = min(bytes.count - offset, capacity - tail)
            (storage + tail).copyMemory(from: bytes.baseAddress! + offset, byteCount: n)
            offset += n
            tail = (tail + n) % capacity
        }
        count += bytes.count
        return true
    }

    @discardableResult
    func append(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { append($0) } }

    /// Points up to two iovecs at the queued bytes from the front; returns (iovecs used, bytes).
    func fill(_ iov: UnsafeMutablePointer<iovec>) -> (iovecs: Int, bytes: Int) {
        guard count > 0 else { return (0, 0) }
        let first = min(count, capacity - head)
        iov[0] = iovec(iov_base: storage + head, iov_len: first)
        if first == count { return (1, count) }
        iov[1] = iovec(iov_base: storage, iov_len: count - first)
        return (2, count)
    }

    /// Drops `n` sent bytes from the front.
    func consume(_ n: Int) {
        precondition(n <= count)
        head = (head + n) % capacity
        count -= n
        if count == 0 { head = 0 }
    }
}
