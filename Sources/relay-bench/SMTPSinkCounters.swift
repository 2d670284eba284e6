import UringRelay

/// What the sink saw since the last `SMTPSink.take()`: the messages it accepted, in order, and
/// whatever a correct relay would never make it do.
struct SMTPSinkCounters: Sendable {
    var messages: [BenchMailSummary] = []
    /// Upstream connections accepted.
    var connections = 0
    /// RSET commands (a relay that reuses upstream connections sends one between transactions).
    var resets = 0
    /// Commands refused or out of order, connections lost mid-message, ... (first few kept).
    var problems: [String] = []
    var problemCount = 0
    /// CLOCK_MONOTONIC ns when the last message was complete (0: none yet).
    var lastMessageNs: UInt64 = 0

    mutating func problem(_ text: String) {
        problemCount += 1
        if problems.count < 5 { problems.append(text) }
    }
}
