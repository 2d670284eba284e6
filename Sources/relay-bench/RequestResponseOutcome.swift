import UringRelay

/// One request/response run.
struct RequestResponseOutcome {
    var connections: Int
    var offeredRate: Int
    var sent = 0
    var received = 0
    /// Replies that arrived inside the measured window.
    var repliesInWindow = 0
    var measuredSeconds: Double = 0
    var histogram = LatencyHistogram()
    var relayCPUSeconds: Double?
    var problems: [String] = []

    var valid: Bool { problems.isEmpty }
    /// Replies per second in the measured window.
    var achievedRate: Double { measuredSeconds > 0 ? Double(histogram.count) / measuredSeconds : 0 }
    /// Replies per second arriving in the measured window (see CompletionRate):
    /// below the offered rate when the relay (or the load) cannot keep up, whereas `achievedRate`
    /// counts every measured request answered, however late.
    var windowRate: Double = 0
    var cpuSecondsPer1kRequests: Double? {
        guard let cpu = relayCPUSeconds, histogram.count > 0 else { return nil }
        return cpu / (Double(histogram.count) / 1000)
    }
}
