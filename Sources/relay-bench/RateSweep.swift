/// Runs a saturation sweep (see SweepPlan): `measure` runs one step at the offered rate it is
/// given. Pure stepping logic, so it can be tested with a made-up `measure`.
struct RateSweep {
    var plan: SweepPlan

    func run(_ measure: (Int) -> SweepStep) -> SweepOutcome {
        var outcome = SweepOutcome()
        var held: Int?
        var failed: Int?
        func step(_ rate: Int) {
            let s = measure(rate)
            outcome.steps.append(s)
            if s.held(by: plan) { held = max(held ?? 0, rate) } else { failed = min(failed ?? .max, rate) }
        }
        step(plan.startRate)
        // Up until a step fails.
        while failed == nil, let h = held {
            let next = Int((Double(h) * plan.factor).rounded())
            if next <= h || next > plan.maxRate { break }
            step(next)
        }
        // Down while nothing was held yet.
        var down = 0
        while held == nil, let f = failed, down < plan.maxDownSteps {
            let next = Int((Double(f) / plan.factor).rounded())
            if next < 1 || next >= f { break }
            step(next)
            down += 1
        }
        // Bisect the gap on a log scale.
        for _ in 0..<plan.refinements {
            guard let h = held, let f = failed else { break }
            let mid = Int((Double(h) * Double(f)).squareRoot().rounded())
            if mid <= h || mid >= f { break }
            step(mid)
        }
        outcome.highestHeld = held
        outcome.lowestFailed = failed
        return outcome
    }
}
