/// What a scenario produced: every run, the tables to print, and engines that could not run.
struct ScenarioReport {
    var results: [BenchResult] = []
    /// Table titles in print order.
    var tables: [String] = []
    /// Engine → one-line reason it was unavailable.
    var unavailable: [String: String] = [:]
}
