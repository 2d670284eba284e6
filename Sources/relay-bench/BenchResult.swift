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

    var valid: Bool { problems.isEmpty }
}
