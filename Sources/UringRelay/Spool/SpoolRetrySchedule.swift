/// When a message that failed transiently is tried again: exponential backoff from the
/// first retry delay, doubling up to a ceiling, given up once the message is older than the
/// maximum age (Postfix's minimal_backoff_time / maximal_backoff_time / maximal_queue_lifetime).
/// Pure: the caller supplies the clock.
public struct SpoolRetrySchedule: Equatable, Sendable {
    public var initialDelayMs: Int64
    public var maxDelayMs: Int64
    public var maxAgeMs: Int64

    /// 5 minutes, doubling up to 4 hours, for 5 days.
    public static let standard = SpoolRetrySchedule(initialDelayMs: 300_000, maxDelayMs: 4 * 3_600_000,
                                                    maxAgeMs: 5 * 86_400_000)

    public init(initialDelayMs: Int64, maxDelayMs: Int64, maxAgeMs: Int64) {
        self.initialDelayMs = max(1, initialDelayMs)
        self.maxDelayMs = max(self.initialDelayMs, maxDelayMs)
        self.maxAgeMs = max(0, maxAgeMs)
    }

    /// The wait after the `attempts`-th failed attempt (1: the first failure).
    public func delayMs(afterAttempts attempts: Int) -> Int64 {
        var d = initialDelayMs
        var n = 1
        while n < attempts && d < maxDelayMs {
            d = d > maxDelayMs / 2 ? maxDelayMs : d * 2
            n += 1
        }
        return min(d, maxDelayMs)
    }

    /// The next attempt after `attempts` failed ones, or nil when the message has expired:
    /// it arrived `maxAgeMs` or more before `nowUnixMs`.
    public func nextAttemptUnixMs(arrivalUnixMs: Int64, attempts: Int, nowUnixMs: Int64) -> Int64? {
        guard nowUnixMs - arrivalUnixMs < maxAgeMs else { return nil }
        return nowUnixMs + delayMs(afterAttempts: attempts)
    }
}
