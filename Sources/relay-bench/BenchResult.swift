import UringRelay

/// One run of one workload on one engine in one round.
struct BenchResult {
    var scenario: String
    /// "bulk" or "rr".
    var workload: String
    var engine: String
    var round: Int
    /// Ordered parameters, e.g. [("connections", "8"), ("duration_s", "2")].
    var params: [(String, String)]
    /// Heading of the table this run belongs to (same workload and params).
    var table: String
    var problems: [String]
    var metrics: [Metric]
    /// Latency of the measured window, for the percentile charts (--svg); nil when not measured.
    var histogram: LatencyHistogram? = nil
    /// A saturation sweep's steps in the order run (empty for other workloads).
    var sweep: [SweepPoint] = []

    var valid: Bool { problems.isEmpty }
}
