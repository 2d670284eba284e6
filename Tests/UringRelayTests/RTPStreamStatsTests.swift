import Testing
@testable import UringRelay

@Suite struct RTPStreamStatsTests {
    static func run(_ seqs: [UInt16]) -> RTPStreamStats {
        var s = RTPStreamStats(ssrc: 1, clockRate: 90000)
        for (i, seq) in seqs.enumerated() {
            s.record(sequence: seq, timestamp: UInt32(i) * 3000, bytes: 100, arrivalNs: Int64(i) * 33_333_333)
        }
        return s
    }

    /// (name, sequence, expected, received, lost, reordered, duplicates, jumps, restarts, extended highest)
    static let cases: [(String, [UInt16], Int, Int, Int, Int, Int, Int, Int, UInt32)] = [
        ("in order", Array(1...10), 10, 10, 0, 0, 0, 0, 0, 10),
        ("one gap", [1, 2, 4, 5], 5, 4, 1, 0, 0, 0, 0, 5),
        ("gap of 3 and gap of 1", [10, 14, 15, 17], 8, 4, 4, 0, 0, 0, 0, 17),
        ("one swap", [1, 2, 4, 3, 5], 5, 5, 0, 1, 0, 0, 0, 5),
        ("late beyond the end of a gap", [1, 5, 2, 3], 5, 4, 1, 2, 0, 0, 0, 5),
        ("wrap", [65534, 65535, 0, 1], 4, 4, 0, 0, 0, 0, 0, 65537),
        ("wrap with loss", [65534, 1], 4, 2, 2, 0, 0, 0, 0, 65537),
        ("reorder across the wrap", [65534, 0, 65535, 1], 4, 4, 0, 1, 0, 0, 0, 65537),
        ("duplicate", [1, 2, 2, 3], 3, 4, -1, 0, 1, 0, 0, 3),
        ("lone jump ignored", [1, 2, 5000, 3], 3, 3, 0, 0, 0, 1, 0, 3),
        ("jump confirmed: restart", [1, 2, 40000, 40001, 40002], 2, 2, 0, 0, 0, 1, 1, 40002),
        ("99 behind is late", [1000, 901], 1, 2, -1, 1, 0, 0, 0, 1000),
        ("100 behind is a jump", [1000, 900], 1, 1, 0, 0, 0, 1, 0, 1000),
        ("2999 ahead is a gap", [1, 3000], 3000, 2, 2998, 0, 0, 0, 0, 3000),
        ("3000 ahead is a jump", [1, 3001], 1, 1, 0, 0, 0, 1, 0, 1),
    ]

    @Test(arguments: cases)
    func sequenceAccounting(_ name: String, _ seqs: [UInt16], _ expected: Int, _ received: Int, _ lost: Int,
                            _ reordered: Int, _ duplicates: Int, _ jumps: Int, _ restarts: Int, _ highest: UInt32) {
        let s = Self.run(seqs)
        #expect(s.expected == expected, "\(name): expected")
        #expect(s.received == received, "\(name): received")
        #expect(s.lost == lost, "\(name): lost")
        #expect(s.reordered == reordered, "\(name): reordered")
        #expect(s.duplicates == duplicates, "\(name): duplicates")
        #expect(s.jumps == jumps, "\(name): jumps")
        #expect(s.restarts == restarts, "\(name): restarts")
        #expect(s.extendedHighestSequence == highest, "\(name): highest")
        #expect(s.packets == seqs.count && s.bytes == 100 * seqs.count, "\(name): packets, bytes")
    }

    @Test func fractionLostPerInterval() {
        var s = Self.run([1, 2, 4, 5])
        #expect(s.takeFractionLost() == 51)  // 1 of 5: 256 / 5 = 51
        s.record(sequence: 6, timestamp: 0, bytes: 1, arrivalNs: 0)
        #expect(s.takeFractionLost() == 0)
        s.record(sequence: 9, timestamp: 0, bytes: 1, arrivalNs: 0)
        #expect(s.takeFractionLost() == 170)  // 2 of 3: 512 / 3 = 170
    }

    /// 8 kHz audio, 20 ms packets (160 units); arrivals 0, 20, 50, 60, 80 ms.
    /// D: 0, +80, −80, 0 → J: 0, 5, 5 + 75/16 = 9.6875, 9.6875 × 15/16 = 9.08203125.
    @Test func jitterMatchesRFC3550A8() {
        var s = RTPStreamStats(ssrc: 1, clockRate: 8000)
        let arrivalsMs: [Int64] = [0, 20, 50, 60, 80]
        var figures: [Double] = []
        for (i, ms) in arrivalsMs.enumerated() {
            s.record(sequence: UInt16(i), timestamp: UInt32(i) * 160, bytes: 172, arrivalNs: ms * 1_000_000)
            figures.append(s.jitter)
        }
        #expect(figures.map { ($0 * 1e9).rounded() / 1e9 } == [0, 0, 5, 9.6875, 9.08203125])
        #expect(s.jitterTimestampUnits == 9)
        #expect(abs(s.jitterSeconds - 9.08203125 / 8000) < 1e-12)
    }

    @Test func jitterAcrossTimestampWrapAndRandomOffset() {
        // Timestamps start near 2^32 and wrap; a steady 90 kHz stream at 30 fps has no jitter.
        var s = RTPStreamStats(ssrc: 1, clockRate: 90000)
        var ts: UInt32 = 0xFFFF_F000
        for i in 0..<10 {
            s.record(sequence: UInt16(i), timestamp: ts, bytes: 1200, arrivalNs: 5_000_000_000 + Int64(i) * 100_000_000 / 3)
            ts &+= 3000
        }
        #expect(s.jitter < 1e-3)
        // One frame 11.1 ms late (1000 units), then on time: D = 1000, then −1000.
        s.record(sequence: 10, timestamp: ts, bytes: 1200, arrivalNs: 5_000_000_000 + 10 * 100_000_000 / 3 + 11_111_111)
        #expect(abs(s.jitter - 1000.0 / 16) < 0.01)
        ts &+= 3000
        s.record(sequence: 11, timestamp: ts, bytes: 1200, arrivalNs: 5_000_000_000 + 11 * 100_000_000 / 3)
        #expect(abs(s.jitter - (62.5 + (1000 - 62.5) / 16)) < 0.02)
    }

    @Test func emptyStatsAreZero() {
        let s = RTPStreamStats(ssrc: 9, clockRate: 90000)
        #expect(s.expected == 0 && s.lost == 0 && s.jitter == 0 && s.packets == 0)
    }
}
