import Synchronization

/// What the rtp scenario's sender tells its receiver threads.
final class RTPLoadShared: Sendable {
    /// Packets sent so far (final once `senderDone`).
    let sent = Atomic<Int>(0)
    let senderDone = Atomic<Bool>(false)
    /// CLOCK_MONOTONIC ns when the sender finished: receivers give up `drainNs` after it.
    let senderEndNs = Atomic<UInt64>(0)
}
