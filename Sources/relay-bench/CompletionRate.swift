/// The completion rate of an open-loop run, as the saturation sweep judges it.
enum CompletionRate {
    /// Completions per second while the run went on: over the measured window; when the run
    /// stopped early (fell behind), over the part of the window before the stop; or over the whole
    /// run if it stopped before the window was 50 ms old. So an overloaded sweep step reports the
    /// rate it kept up while falling behind, not a count cut short by the stop.
    static func perSecond(inWindow: Int, total: Int, start: UInt64, window: Range<UInt64>, stoppedAt: UInt64?) -> Double {
        let end = min(window.upperBound, stoppedAt ?? .max)
        if end > window.lowerBound && end - window.lowerBound >= 50_000_000 {
            return Double(inWindow) / (Double(end - window.lowerBound) / 1e9)
        }
        let ran = end > start && end != .max ? Double(end - start) / 1e9 : 0
        return ran > 0 ? Double(total) / ran : 0
    }
}
