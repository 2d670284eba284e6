import Glibc

/// A fixed-capacity FIFO of outgoing bytes for one socket, allocated once when the connection
/// opens, with the msghdr its sends use. The bytes at the front may be in a send (the kernel
/// reads them until it completes); appends only ever write behind them, so nothing in flight
/// moves or changes.
final class ByteRing {
    let capacity: Int
    private let storage: UnsafeMutableRawPointer
    /// Stable for the ring's life: a send in flight points at them.
    private let message: UnsafeMutablePointer<msghdr>
    private let iov: UnsafeMutablePointer<iovec>
    private var head = 0
    /// Bytes queued, including any in a send.
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(byteCount: capacity, alignment: 16)
        message = .allocate(capacity: 1)
        message.initialize(to: msghdr())
        iov = .allocate(capacity: 2)
        iov.initialize(repeating: iovec(), count: 2)
    }

    deinit {
        storage.deallocate()
        message.deallocate()
        iov.deallocate()
    }

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

    /// A msghdr over everything queued (one or two iovecs, as the bytes wrap), for one send;
    /// nil when the ring is empty. Valid until `consume` after that send completes.
    func messageForSend() -> (message: UnsafeMutablePointer<msghdr>, bytes: Int)? {
        guard count > 0 else { return nil }
        let first = min(count, capacity - head)
        iov[0] = iovec(iov_base: storage + head, iov_len: first)
        var iovecs = 1
        if first < count {
            iov[1] = iovec(iov_base: storage, iov_len: count - first)
            iovecs = 2
        }
        message.pointee = msghdr()
        message.pointee.msg_iov = iov
        message.pointee.msg_iovlen = iovecs
        return (message, count)
    }

    /// Drops `n` sent bytes from the front.
    func consume(_ n: Int) {
        precondition(n <= count)
        head = (head + n) % capacity
        count -= n
        if count == 0 { head = 0 }
    }
}
