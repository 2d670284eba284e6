/// One sweep step as reported (JSON and charts): offered and measured rate, whether it held.
struct SweepPoint {
    var offeredRate: Int
    /// Completions per second inside the measured window.
    var measuredRate: Double
    var held: Bool
    /// The first reason the step was invalid, if it was.
    var problem: String?
}
