import Testing
@testable import relay_bench

/// The saturation sweep's stepping and its "held" rule, against made-up relays of known capacity
/// (no timing: each step's measured rate is computed from the capacity).
@Suite struct BenchSweepTests {
    static let plan = SweepPlan(startRate: 1000, refinements: 2, maxRate: 1_000_000, warmupNs: 0, durationNs: 1)

    /// A relay that completes min(offered, capacity) per second and is valid up to `brokenAbove`.
    static func fake(capacity: Double, brokenAbove: Int = .max) -> (Int) -> SweepStep {
        { rate in
            SweepStep(offeredRate: rate, measuredRate: min(Double(rate), capacity),
                      problems: rate > brokenAbove ? ["3 replies lost"] : [], result: nil)
        }
    }

    @Test func stepsUpThenBisectsTheGap() {
        var offered: [Int] = []
        let fake = Self.fake(capacity: 10_000)
        let o = RateSweep(plan: Self.plan).run { offered.append($0); return fake($0) }
        // 1000, 2000, 4000, 8000 held; 16000 not; then √(8000·16000) ≈ 11314 not, √(8000·11314) ≈ 9514 held.
        #expect(offered == [1000, 2000, 4000, 8000, 16000, 11314, 9514])
        #expect(o.highestHeld == 9514)
        #expect(o.lowestFailed == 11314)
        #expect(o.heldStep?.offeredRate == 9514)
        // Nothing above the first failed rate is ever tried.
        #expect(offered.allSatisfy { $0 <= 16000 })
    }

    @Test func heldNeedsTheRateWithinToleranceAndAValidRun() {
        let p = Self.plan
        #expect(SweepStep(offeredRate: 1000, measuredRate: 970, problems: [], result: nil).held(by: p))
        #expect(!SweepStep(offeredRate: 1000, measuredRate: 969, problems: [], result: nil).held(by: p))
        #expect(!SweepStep(offeredRate: 1000, measuredRate: 1000, problems: ["1 replies lost"], result: nil).held(by: p))
        // A relay that loses data above 3000/s tops out there even though its rate keeps up.
        let o = RateSweep(plan: p).run(Self.fake(capacity: 1e9, brokenAbove: 3000))
        #expect(o.highestHeld.map { $0 <= 3000 && $0 >= 2000 } == true)
        #expect(o.lowestFailed.map { $0 > 3000 } == true)
    }

    @Test func goesDownWhenTheFirstStepFails() {
        var offered: [Int] = []
        let fake = Self.fake(capacity: 300)
        let o = RateSweep(plan: Self.plan).run { offered.append($0); return fake($0) }
        #expect(Array(offered.prefix(3)) == [1000, 500, 250])
        #expect(o.highestHeld.map { $0 >= 250 && $0 <= 300 } == true)
        // Nothing held at all: no figure, and the report says why.
        let none = RateSweep(plan: Self.plan).run(Self.fake(capacity: 1))
        #expect(none.highestHeld == nil)
        #expect(none.steps.count == 1 + Self.plan.maxDownSteps)
        #expect(SweepReport(unit: "req_s", unitLabel: "req/s").problems(none).first?.hasPrefix("no step held") == true)
    }

    @Test func stopsAtTheMaximumRate() {
        var p = Self.plan
        p.maxRate = 5000
        let o = RateSweep(plan: p).run(Self.fake(capacity: 1e9))
        #expect(o.steps.map(\.offeredRate) == [1000, 2000, 4000])
        #expect(o.highestHeld == 4000 && o.lowestFailed == nil)
    }
}
