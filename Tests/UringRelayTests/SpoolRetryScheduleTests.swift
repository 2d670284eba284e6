import Testing
@testable import UringRelay

@Suite struct SpoolRetryScheduleTests {
    @Test func standardBacksOffFromFiveMinutesDoublingToFourHours() {
        let s = SpoolRetrySchedule.standard
        let minutes = (1...9).map { s.delayMs(afterAttempts: $0) / 60_000 }
        #expect(minutes == [5, 10, 20, 40, 80, 160, 240, 240, 240])
        #expect(s.delayMs(afterAttempts: 10_000) == 4 * 3_600_000, "no overflow however many attempts")
    }

    @Test func aClockDrivesTheAttemptsUntilTheMessageExpires() {
        let s = SpoolRetrySchedule.standard
        let arrival: Int64 = 1_000_000
        var now = arrival
        var attempts = 0
        var times: [Int64] = []
        while let next = s.nextAttemptUnixMs(arrivalUnixMs: arrival, attempts: attempts + 1, nowUnixMs: now) {
            attempts += 1
            times.append(next - arrival)
            now = next  // the injected clock jumps to each attempt
        }
        // 5+10+20+40+80+160 min = 5 h 15 min, then every 4 h until 5 days have passed.
        #expect(times.first == 300_000 && times[5] == 315 * 60_000)
        #expect(now - arrival >= 5 * 86_400_000 && now - arrival < 5 * 86_400_000 + 4 * 3_600_000)
        let fourHours: Int64 = 4 * 3_600_000
        let afterBackoff: Int64 = 5 * 86_400_000 - 315 * 60_000
        let expected = 6 + Int((afterBackoff + fourHours - 1) / fourHours)
        #expect(attempts == expected)
    }

    @Test func expiryIsByAgeNotByCount() {
        let s = SpoolRetrySchedule(initialDelayMs: 1000, maxDelayMs: 1000, maxAgeMs: 10_000)
        #expect(s.nextAttemptUnixMs(arrivalUnixMs: 0, attempts: 1, nowUnixMs: 9_999) == 10_999)
        #expect(s.nextAttemptUnixMs(arrivalUnixMs: 0, attempts: 1, nowUnixMs: 10_000) == nil)
    }
}
