/// The queue id of a session's current transaction, shared between the worker (which sets it
/// at MAIL) and the session's trace-stamp closure (which reads it for the Received field).
/// `@unchecked Sendable`: the closure must be `@Sendable` for `SMTPServerSession`, but both
/// sides only ever run on the worker thread that owns the session.
final class SpoolTraceID: @unchecked Sendable {
    var value = ""
}
