/// Turns a finished sweep into one BenchResult: the highest rate held, what was measured at it,
/// and every step (for the JSON report and the throughput chart). Shared by the tcp and smtp
/// scenarios; `unit` names the rate ("req_s", "msg_s").
struct SweepReport {
    var unit: String
    var unitLabel: String

    func metrics(_ sweep: SweepOutcome, plan: SweepPlan) -> [Metric] {
        var metrics: [Metric] = []
        if let h = sweep.highestHeld {
            metrics.append(Metric(key: "highest_held_\(unit)", label: "highest rate held (\(unitLabel))", value: Double(h), decimals: 0))
        }
        if let f = sweep.lowestFailed {
            metrics.append(Metric(key: "lowest_not_held_\(unit)", label: "lowest rate not held (\(unitLabel))", value: Double(f), decimals: 0))
        }
        if let step = sweep.heldStep, let r = step.result {
            metrics.append(Metric(key: "held_measured_\(unit)", label: "at that rate: measured (\(unitLabel))", value: step.measuredRate, decimals: 0))
            for (key, label) in [("latency_p50_us", "p50 (µs)"), ("latency_p99_us", "p99 (µs)"), ("relay_cpu_utilization", "relay CPU (cores busy)")] {
                if let m = r.metrics.first(where: { $0.key == key }) {
                    metrics.append(Metric(key: "held_" + key, label: "at that rate: " + label, value: m.value, decimals: m.decimals))
                }
            }
        }
        metrics.append(Metric(key: "sweep_steps", label: "steps run", value: Double(sweep.steps.count), decimals: 0))
        return metrics
    }

    func points(_ sweep: SweepOutcome, plan: SweepPlan) -> [SweepPoint] {
        sweep.steps.map { SweepPoint(offeredRate: $0.offeredRate, measuredRate: $0.measuredRate, held: $0.held(by: plan), problem: $0.problems.first) }
    }

    /// Why the sweep as a whole has no figure (empty when some step held).
    func problems(_ sweep: SweepOutcome) -> [String] {
        guard sweep.highestHeld == nil else { return [] }
        let first = sweep.steps.first.map { "\($0.offeredRate)/s: " + ($0.problems.first ?? "measured \(NumberText.fixed($0.measuredRate, 0))/s") } ?? "no step ran"
        return ["no step held (\(first))"]
    }

    /// Progress line for one step.
    func stepLine(_ head: String, _ s: SweepStep, plan: SweepPlan) -> String {
        let verdict = s.held(by: plan) ? "held" : "not held" + (s.problems.first.map { ": \($0)" } ?? "")
        return "\(head) \(s.offeredRate)/s offered, \(NumberText.fixed(s.measuredRate, 0))/s in the window: \(verdict)"
    }
}
