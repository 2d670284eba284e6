/// Workload sizes of the smtp scenario, with what the command line changed.
struct SMTPPlan {
    /// Concurrent client sessions; every workload runs once per count and message size.
    var sessions: [Int]
    /// Message sizes in octets (before dot-stuffing and the relay's Received field).
    var messageSizes: [Int]
    var saturationWarmupNs: UInt64
    var saturationDurationNs: UInt64
    var openWarmupNs: UInt64
    var openDurationNs: UInt64
    /// Open-loop rate as a fraction of the lower engine's median saturation.
    var openLoopFraction = 0.5
    /// Message sizes of the saturation sweep (open loop, rate stepped up until not held).
    var sweepSessions: [Int]
    var sweepSizes: [Int]
    var sweep: SweepPlan

    static let quick = SMTPPlan(sessions: [32], messageSizes: [1 << 10, 16 << 10, 128 << 10],
                                saturationWarmupNs: 250_000_000, saturationDurationNs: 1_000_000_000,
                                openWarmupNs: 250_000_000, openDurationNs: 1_000_000_000,
                                sweepSessions: [32], sweepSizes: [1 << 10],
                                sweep: SweepPlan(startRate: 1000, refinements: 2, maxRate: 1_000_000,
                                                 warmupNs: 200_000_000, durationNs: 500_000_000))
    static let full = SMTPPlan(sessions: [1, 8, 64], messageSizes: [1 << 10, 16 << 10, 128 << 10],
                               saturationWarmupNs: 1_000_000_000, saturationDurationNs: 5_000_000_000,
                               openWarmupNs: 1_000_000_000, openDurationNs: 5_000_000_000,
                               sweepSessions: [64], sweepSizes: [1 << 10, 16 << 10, 128 << 10],
                               sweep: SweepPlan(startRate: 500, refinements: 3, maxRate: 1_000_000,
                                                warmupNs: 500_000_000, durationNs: 2_000_000_000))

    /// The matrix as help text lines.
    func describe() -> String {
        func list(_ xs: [Int]) -> String { xs.map(String.init).joined(separator: ", ") }
        func sizes(_ xs: [Int]) -> String { xs.map(ByteText.short).joined(separator: ", ") }
        return """
            saturation  sessions \(list(sessions)) × message sizes \(sizes(messageSizes)), closed loop, \(NumberText.fixed(Double(saturationDurationNs) / 1e9, 1)) s each
            open        the same matrix at \(Int(openLoopFraction * 100))% of the lower engine's saturation, \(NumberText.fixed(Double(openDurationNs) / 1e9, 1)) s each
            sweep       sessions \(list(sweepSessions)) × message sizes \(sizes(sweepSizes)), \(NumberText.fixed(Double(sweep.durationNs) / 1e9, 1)) s per step
        """
    }
}
