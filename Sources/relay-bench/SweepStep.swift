/// One step of a saturation sweep: the offered rate and what came of it.
struct SweepStep {
    var offeredRate: Int
    /// Completions per second inside the measured window.
    var measuredRate: Double
    /// Why the run is invalid (empty when valid).
    var problems: [String]
    /// The step's full result (latency, CPU), kept for the JSON report and the charts.
    var result: BenchResult?

    func held(by plan: SweepPlan) -> Bool {
        problems.isEmpty && measuredRate >= plan.heldThreshold(offeredRate)
    }
}
