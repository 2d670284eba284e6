/// A finished saturation sweep: every step in the order run, the highest rate held and the
/// lowest that was not (nil when no step was held, or none failed below the plan's maximum).
struct SweepOutcome {
    var steps: [SweepStep] = []
    var highestHeld: Int?
    var lowestFailed: Int?

    /// The step that ran at the highest held rate.
    var heldStep: SweepStep? { steps.last { $0.offeredRate == highestHeld } }
}
