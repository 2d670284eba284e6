/// A warning that may recur at high rate (a refused client, a failed upstream connect):
/// logged at most once per interval with the number of occurrences since the last line, and
/// flushed from the worker's tick so the last burst is reported too.
struct RateLimitedLog {
    let intervalMs: Int64
    private var pending = 0
    private var lastLineMs: Int64 = Int64.min / 2
    private var render: ((Int) -> String)?

    init(every intervalMs: Int64) { self.intervalMs = intervalMs }

    mutating func note(nowMs: Int64, _ line: @escaping (Int) -> String) {
        pending += 1
        render = line
        flush(nowMs: nowMs)
    }

    mutating func flush(nowMs: Int64) {
        guard pending > 0, nowMs - lastLineMs >= intervalMs, let render else { return }
        Log.warning(render(pending))
        pending = 0
        lastLineMs = nowMs
    }
}
