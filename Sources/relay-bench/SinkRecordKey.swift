/// Identifies a sink stream across runs: (run id, connection id).
struct SinkRecordKey: Hashable, Sendable {
    var run: UInt16
    var connection: UInt32
}
