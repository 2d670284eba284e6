/// How a saturation sweep steps the offered open-loop rate, and what "held" means.
///
/// Steps go up geometrically from `startRate` by `factor` until one is not held (or `maxRate`
/// is passed); then `refinements` more steps each try the geometric middle of the last held
/// and the first failed rate, halving the gap on a log scale every time. If the very first step
/// fails, the rate goes down by `factor` (at most `maxDownSteps` times) until one is held.
///
/// A step is held when the run is valid (every reply or message checked, none lost, no
/// protocol error), no reply or message came more than `maxLatencyNs` after its due time, and
/// the rate of completions inside the measured window is at least `1 - tolerance` of the
/// offered rate.
struct SweepPlan {
    var startRate: Int
    var factor: Double = 2
    var refinements: Int
    var maxRate: Int
    var maxDownSteps = 3
    var warmupNs: UInt64
    var durationNs: UInt64
    var tolerance = 0.03
    var maxLatencyNs: UInt64 = 100_000_000

    /// Lowest completion rate that still counts as holding `offeredRate`.
    func heldThreshold(_ offeredRate: Int) -> Double { Double(offeredRate) * (1 - tolerance) }

    /// One line for table titles and --help: how the rate was stepped and judged.
    var description: String {
        let factorText = factor == factor.rounded() ? String(Int(factor)) : NumberText.fixed(factor, 2)
        return "from \(startRate)/s in ×\(factorText) steps, \(refinements) refinement\(refinements == 1 ? "" : "s"), each \(NumberText.fixed(Double(durationNs) / 1e9, 1)) s after \(warmupNs / 1_000_000) ms warm-up; held = valid, nothing lost, ≥ \(Int((1 - tolerance) * 100))% of the offered rate completed in the window, nothing later than \(maxLatencyNs / 1_000_000) ms"
    }
}
