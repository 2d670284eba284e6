/// What the sink saw on one bulk connection.
struct SinkRecord: Sendable {
    var bytes: UInt64 = 0
    /// Offset of the first byte that differed from the pattern, if any.
    var firstMismatch: UInt64?
    /// Whether the stream ended with a clean EOF (not a reset or error).
    var cleanEOF = false
    var error: String?
    /// CLOCK_MONOTONIC ns when EOF was read.
    var endNs: UInt64 = 0
}
