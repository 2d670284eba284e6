/// One delivery of a spooled message in flight: the attempt's state machine, the message file
/// it streams the body from, and how far it got.
final class SpoolDelivery {
    let entry: SpoolQueueEntry
    var attempt: SpoolDeliveryAttempt
    let fd: Int32
    var readOffset: Int64
    let endOffset: Int64
    /// DATA got its 354: body bytes go out as the upstream's queue has room.
    var streaming = false
    var endRequested = false

    init(entry: SpoolQueueEntry, recipients: [Int], fd: Int32) {
        self.entry = entry
        attempt = SpoolDeliveryAttempt(recipients: recipients)
        self.fd = fd
        readOffset = Int64(entry.message.bodyOffset)
        endOffset = Int64(entry.message.fileBytes)
    }
}
