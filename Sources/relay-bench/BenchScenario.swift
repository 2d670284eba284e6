import UringRelay

/// One benchmark scenario (tcp, smtp, rtp, rtsp), run by `relay-bench NAME` and by
/// `relay-bench all`.
protocol BenchScenario {
    /// Subcommand name, e.g. "tcp".
    var name: String { get }
    /// One line for `relay-bench --help`.
    var summary: String { get }
    /// Workload names `--workload` picks from.
    var workloads: [String] { get }
    /// The workload matrix of the full suite and of --quick, for --help.
    var matrix: String { get }
    /// Runs every round; progress goes to stderr. Throws only when nothing could be measured.
    func run(options: BenchOptions, environment: BenchEnvironment) throws(BenchFailure) -> ScenarioReport
    /// Flags of this scenario alone, added to the shared ones.
    var flags: [FlagSpec] { get }
    /// Rejects bad values of `flags` before anything runs (a usage error exits 2).
    func checkFlags(_ flags: ParsedFlags) throws(UsageError)
}

extension BenchScenario {
    var flags: [FlagSpec] { [] }
    func checkFlags(_ flags: ParsedFlags) throws(UsageError) {}
}
