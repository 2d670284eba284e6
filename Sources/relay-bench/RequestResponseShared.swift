import Synchronization

/// State the sender and receiver threads of one request/response run share.
final class RequestResponseShared: Sendable {
    /// Requests fully written so far.
    let sent = Atomic<Int>(0)
    let senderDone = Atomic<Bool>(false)
    /// CLOCK_MONOTONIC ns when the sender finished.
    let senderEndNs = Atomic<UInt64>(0)
    /// Set by the receiver when it gives up, so the sender stops too.
    let abort = Atomic<Bool>(false)
}
