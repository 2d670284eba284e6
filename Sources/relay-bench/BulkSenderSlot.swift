/// What one bulk sender thread did. Written only by that thread, read after join().
final class BulkSenderSlot: @unchecked Sendable {
    // @unchecked: single writer (the sender thread), read by the owner only after join(),
    // which orders the accesses.
    let fd: Int32
    let id: UInt32
    var bytesSent: UInt64 = 0
    var error: String?

    init(fd: Int32, id: UInt32) {
        self.fd = fd
        self.id = id
    }
}
