/// Workload matrix of the tcp scenario, with what the command line changed.
struct TCPPlan {
    var bulkConnections: [Int]
    /// Bytes per write() of the bulk senders.
    var bulkSizes: [Int]
    var bulkDurationNs: UInt64
    var rrConnections: [Int]
    /// Request (and echo) sizes.
    var rrSizes: [Int]
    var rrDurationNs: UInt64
    var rrWarmupNs: UInt64 = 500_000_000
    /// Connections and request sizes of the saturation sweeps.
    var sweepConnections: [Int]
    var sweepSizes: [Int]
    var sweep: SweepPlan

    /// The request/response open loop offers 20 000 req/s, less for big requests so the echo
    /// stays under 128 MiB/s each way (1 Gbit/s): the workload measures latency, not bandwidth.
    static func rrRate(messageBytes: Int) -> Int { min(20_000, (128 << 20) / messageBytes) }

    static let quick = TCPPlan(bulkConnections: [1, 8], bulkSizes: [64 << 10], bulkDurationNs: 2_000_000_000,
                               rrConnections: [64], rrSizes: [128], rrDurationNs: 2_000_000_000,
                               sweepConnections: [64], sweepSizes: [128],
                               sweep: SweepPlan(startRate: 5000, refinements: 2, maxRate: 2_000_000,
                                                warmupNs: 200_000_000, durationNs: 500_000_000))
    /// The full suite: every connection count with every size.
    static let full = TCPPlan(bulkConnections: [1, 8, 64, 512], bulkSizes: [128, 1 << 10, 16 << 10, 64 << 10],
                              bulkDurationNs: 5_000_000_000,
                              rrConnections: [1, 8, 64, 512], rrSizes: [128, 1 << 10, 16 << 10, 64 << 10],
                              rrDurationNs: 5_000_000_000,
                              sweepConnections: [64, 512], sweepSizes: [128],
                              sweep: SweepPlan(startRate: 5000, refinements: 3, maxRate: 2_000_000,
                                               warmupNs: 500_000_000, durationNs: 2_000_000_000))

    /// `--connections`, `--size` and `--duration` narrow or change every workload's matrix.
    mutating func apply(connections: [Int], sizes: [Int], durationNs: UInt64?) {
        if !connections.isEmpty { (bulkConnections, rrConnections, sweepConnections) = (connections, connections, connections) }
        if !sizes.isEmpty { (bulkSizes, rrSizes, sweepSizes) = (sizes, sizes, sizes) }
        if let d = durationNs { (bulkDurationNs, rrDurationNs, sweep.durationNs) = (d, d, d) }
    }

    /// The matrix as help text lines.
    func describe() -> String {
        func list(_ xs: [Int]) -> String { xs.map(String.init).joined(separator: ", ") }
        func sizes(_ xs: [Int]) -> String { xs.map(ByteText.short).joined(separator: ", ") }
        let s = Double(bulkDurationNs) / 1e9
        return """
            bulk   connections \(list(bulkConnections)) × write sizes \(sizes(bulkSizes)), \(NumberText.fixed(s, 1)) s each
            rr     connections \(list(rrConnections)) × request sizes \(sizes(rrSizes)), open loop at min(20000, 128 MiB/s ÷ size) req/s, \(NumberText.fixed(Double(rrDurationNs) / 1e9, 1)) s each
            sweep  connections \(list(sweepConnections)) × request sizes \(sizes(sweepSizes)), \(NumberText.fixed(Double(sweep.durationNs) / 1e9, 1)) s per step
        """
    }
}
