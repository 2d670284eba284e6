/// Workload sizes of the tcp scenario.
struct TCPPlan {
    var bulkConnections: [Int]
    var bulkDurationNs: UInt64
    var rrConnections: [Int]
    /// Offered requests per second, all connections together.
    var rrRate: Int
    var rrDurationNs: UInt64
    var rrWarmupNs: UInt64 = 500_000_000
    /// Connections of each request/response saturation sweep.
    var sweepConnections: [Int]
    var sweep: SweepPlan

    static let quick = TCPPlan(bulkConnections: [1, 8], bulkDurationNs: 2_000_000_000,
                               rrConnections: [64], rrRate: 20_000, rrDurationNs: 2_000_000_000,
                               sweepConnections: [64],
                               sweep: SweepPlan(startRate: 5000, refinements: 2, maxRate: 2_000_000,
                                                warmupNs: 200_000_000, durationNs: 500_000_000))
    static let full = TCPPlan(bulkConnections: [1, 8, 64], bulkDurationNs: 5_000_000_000,
                              rrConnections: [64, 512], rrRate: 20_000, rrDurationNs: 5_000_000_000,
                              sweepConnections: [64, 512],
                              sweep: SweepPlan(startRate: 5000, refinements: 3, maxRate: 2_000_000,
                                               warmupNs: 500_000_000, durationNs: 2_000_000_000))
}
