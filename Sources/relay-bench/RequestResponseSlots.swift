import UringRelay

/// Per-thread results of one request/response run. Each field has one writer thread; the owner
/// reads them only after join().
final class RequestResponseSlots: @unchecked Sendable {
    // @unchecked: sender fields are written only by the sender, receiver fields only by the
    // receiver; both are read after pthread_join, which orders the accesses.
    var senderError: String?
    var relayCPUAtWarmupEnd: Double?
    var receiverProblems: [String] = []
    var histogram = LatencyHistogram()
    var received = 0
    /// Replies that arrived inside the measured window (whenever their request was due).
    var repliesInWindow = 0
    var mismatches = 0
    /// When the receiver stopped the run for a reply past `maxLatencyNs`.
    var fellBehindAtNs: UInt64?
}
