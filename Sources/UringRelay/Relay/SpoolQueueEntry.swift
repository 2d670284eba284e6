/// A committed message in a worker's delivery index.
final class SpoolQueueEntry {
    var message: SpooledMessage
    /// A delivery of it is in flight.
    var delivering = false
    /// It is in the due list.
    var queued = false

    init(_ message: SpooledMessage) { self.message = message }
    var id: String { message.id }
}
