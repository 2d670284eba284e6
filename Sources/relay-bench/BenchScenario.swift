/// One benchmark scenario (tcp now; smtp, rtp and rtsp later), run by `relay-bench NAME` and
/// by `relay-bench all`.
protocol BenchScenario {
    /// Subcommand name, e.g. "tcp".
    var name: String { get }
    /// One line for `relay-bench --help`.
    var summary: String { get }
    /// Runs every round; progress goes to stderr. Throws only when nothing could be measured.
    func run(options: BenchOptions, environment: BenchEnvironment) throws(BenchFailure) -> ScenarioReport
}
