/// One bulk run: C connections streaming through the relay into the verifying sink.
struct BulkOutcome {
    var connections: Int
    var bytesSent: UInt64 = 0
    var bytesAtSink: UInt64 = 0
    var seconds: Double = 0
    var relayCPUSeconds: Double?
    /// Why the run is invalid; empty when every byte arrived intact.
    var problems: [String] = []

    var valid: Bool { problems.isEmpty }
    var gbitPerSecond: Double { seconds > 0 ? Double(bytesAtSink) * 8 / seconds / 1e9 : 0 }
    var cpuSecondsPerGiB: Double? {
        guard let cpu = relayCPUSeconds, bytesAtSink > 0 else { return nil }
        return cpu / (Double(bytesAtSink) / Double(1 << 30))
    }
}
