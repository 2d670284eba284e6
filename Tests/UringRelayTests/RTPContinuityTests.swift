import Testing
@testable import UringRelay

@Suite struct RTPContinuityTests {
    static let out: UInt32 = 0x0A0B_0C0D

    static func packet(seq: UInt16, ts: UInt32, ssrc: UInt32, marker: Bool = false) -> [UInt8] {
        [0x80, marker ? 0xE0 : 0x60, UInt8(seq >> 8), UInt8(seq & 0xFF),
         UInt8(ts >> 24), UInt8(ts >> 16 & 0xFF), UInt8(ts >> 8 & 0xFF), UInt8(ts & 0xFF),
         UInt8(ssrc >> 24), UInt8(ssrc >> 16 & 0xFF), UInt8(ssrc >> 8 & 0xFF), UInt8(ssrc & 0xFF), 0x65, 0x88]
    }

    /// Rewrites one packet and returns its output (seq, ts), checking the SSRC and that the
    /// rest of the packet is untouched.
    static func pass(_ c: inout RTPContinuity, seq: UInt16, ts: UInt32, ssrc: UInt32,
                     sourceLocation: SourceLocation = #_sourceLocation) -> (seq: UInt16, ts: UInt32)? {
        var bytes = packet(seq: seq, ts: ts, ssrc: ssrc, marker: true)
        let before = bytes
        guard bytes.withUnsafeMutableBytes({ c.rewrite($0) }) else { return nil }
        guard case .success(let h) = RTPHeader.parse(bytes) else { return nil }
        #expect(h.ssrc == out, sourceLocation: sourceLocation)
        #expect(Array(bytes[0..<2]) == Array(before[0..<2]) && Array(bytes[12...]) == Array(before[12...]),
                sourceLocation: sourceLocation)
        return (h.sequenceNumber, h.timestamp)
    }

    @Test func firstPacketKeepsSequenceAndTimestamp() {
        var c = RTPContinuity(outputSSRC: Self.out)
        c.sourceRestarted(elapsedSinceLastPacketMs: 5000, clockRate: 90000)  // before any output: no effect
        #expect(Self.pass(&c, seq: 4321, ts: 987_654, ssrc: 7)! == (4321, 987_654))
        #expect(Self.pass(&c, seq: 4322, ts: 990_654, ssrc: 7)! == (4322, 990_654))
        #expect(c.lastOutputSequence == 4322 && c.lastOutputTimestamp == 990_654 && c.inputSSRC == 7)
    }

    @Test func restartAtZeroContinues() {
        var c = RTPContinuity(outputSSRC: Self.out)
        for i in 0..<10 { _ = Self.pass(&c, seq: 1000 + UInt16(i), ts: 50_000 + UInt32(i) * 3000, ssrc: 0x1111) }
        c.sourceRestarted(elapsedSinceLastPacketMs: 500, clockRate: 90000)
        let lastTs: UInt32 = 50_000 + 9 * 3000
        // 1009 was the last: 1010 is left for the relay's SPS/PPS packet to readers.
        #expect(Self.pass(&c, seq: 0, ts: 0, ssrc: 0x2222)! == (1011, lastTs + 45_000))
        #expect(Self.pass(&c, seq: 1, ts: 3000, ssrc: 0x2222)! == (1012, lastTs + 48_000))
    }

    @Test func sameSSRCAfterRestartIsANewSessionToo() {
        // Many cameras come back with the same SSRC but counters at 0.
        var c = RTPContinuity(outputSSRC: Self.out)
        _ = Self.pass(&c, seq: 500, ts: 100_000, ssrc: 9)
        c.sourceRestarted(elapsedSinceLastPacketMs: 0, clockRate: 8000)
        #expect(Self.pass(&c, seq: 0, ts: 0, ssrc: 9)! == (502, 100_001))  // 0 ms still moves 1 tick
    }

    @Test func restartsAtRandomValues() {
        var rng = SplitMix64(seed: 0xC0_47_1A_0E)
        var c = RTPContinuity(outputSSRC: Self.out)
        var expectedSeq: UInt16? = nil
        var expectedTs: UInt32 = 0
        for session in 0..<50 {
            let ssrc = UInt32.random(in: 0...UInt32.max, using: &rng)
            var seq = UInt16.random(in: 0...UInt16.max, using: &rng)
            var ts = UInt32.random(in: 0...UInt32.max, using: &rng)
            let elapsedMs = Int.random(in: 0...10_000, using: &rng)
            if session > 0 { c.sourceRestarted(elapsedSinceLastPacketMs: elapsedMs, clockRate: 90000) }
            for i in 0..<Int.random(in: 1...40, using: &rng) {
                let o = Self.pass(&c, seq: seq, ts: ts, ssrc: ssrc)!
                if let e = expectedSeq {
                    // One number left free at each restart.
                    #expect(o.seq == (i == 0 ? e &+ 1 : e), "session \(session) packet \(i)")
                    let step = i == 0 ? UInt32(max(1, elapsedMs * 90)) : 3000
                    #expect(o.ts == expectedTs &+ step, "session \(session) packet \(i)")
                }
                expectedSeq = o.seq &+ 1
                expectedTs = o.ts
                seq &+= 1
                ts &+= 3000
            }
        }
    }

    @Test func wrapsAroundSequenceAndTimestamp() {
        var c = RTPContinuity(outputSSRC: Self.out)
        // Within a session: the input wraps, the output wraps with it.
        let outputs = (0..<4).map { i in
            Self.pass(&c, seq: 65534 &+ UInt16(i), ts: UInt32.max - 3000 &+ UInt32(i) * 3000, ssrc: 1)!
        }
        #expect(outputs.map(\.seq) == [65534, 65535, 0, 1])
        #expect(outputs.map(\.ts) == [UInt32.max - 3000, UInt32.max, 2999, 5999])
        #expect(c.lastOutputSequence == 1 && c.lastOutputTimestamp == 5999)
        // A restart whose offsets wrap: output goes on from 65535 to 0.
        var d = RTPContinuity(outputSSRC: Self.out)
        _ = Self.pass(&d, seq: 65535, ts: UInt32.max, ssrc: 1)
        d.sourceRestarted(elapsedSinceLastPacketMs: 1, clockRate: 90000)
        #expect(Self.pass(&d, seq: 40000, ts: 4_000_000_000, ssrc: 2)! == (1, 89))
        #expect(Self.pass(&d, seq: 40001, ts: 4_000_003_000, ssrc: 2)! == (2, 3089))
    }

    @Test func reorderingWithinASessionPassesThrough() {
        var c = RTPContinuity(outputSSRC: Self.out)
        _ = Self.pass(&c, seq: 100, ts: 0, ssrc: 1)
        c.sourceRestarted(elapsedSinceLastPacketMs: 100, clockRate: 90000)
        // Second session: 10, 12, 11, 14 (13 lost), 9 (late); offsets fixed at the first packet.
        let order: [UInt16] = [10, 12, 11, 14, 9]
        let outputs = order.map { Self.pass(&c, seq: $0, ts: UInt32($0) * 3000, ssrc: 2)! }
        #expect(outputs.map(\.seq) == [102, 104, 103, 106, 101])
        #expect(outputs.map { $0.ts &- outputs[0].ts } == order.map { (UInt32($0) &- 10) &* 3000 })
        #expect(c.lastOutputSequence == 106 && c.lastOutputTimestamp == outputs[3].ts)
        // The next session starts after the highest, not after the late packet.
        c.sourceRestarted(elapsedSinceLastPacketMs: 0, clockRate: 90000)
        #expect(Self.pass(&c, seq: 0, ts: 0, ssrc: 3)! == (108, outputs[3].ts &+ 1))
    }

    @Test func highestTimestampSurvivesBFrameOrder() {
        // Frames in decode order I P B: the last packet's timestamp is not the highest.
        var c = RTPContinuity(outputSSRC: Self.out)
        _ = Self.pass(&c, seq: 1, ts: 0, ssrc: 1)
        _ = Self.pass(&c, seq: 2, ts: 6000, ssrc: 1)
        _ = Self.pass(&c, seq: 3, ts: 3000, ssrc: 1)
        c.sourceRestarted(elapsedSinceLastPacketMs: 10, clockRate: 90000)
        #expect(Self.pass(&c, seq: 0, ts: 0, ssrc: 2)! == (5, 6900))
    }

    @Test func timestampsStayMonotonicAcrossThreeRestarts() {
        var c = RTPContinuity(outputSSRC: Self.out)
        var last: (seq: UInt16, ts: UInt32)? = nil
        let starts: [(UInt16, UInt32)] = [(0, 0), (0, 0), (65000, 4_294_000_000), (12, 77)]
        for (session, start) in starts.enumerated() {
            if session > 0 { c.sourceRestarted(elapsedSinceLastPacketMs: 40 * session, clockRate: 90000) }
            for i in 0..<30 {
                let o = Self.pass(&c, seq: start.0 &+ UInt16(i), ts: start.1 &+ UInt32(i) * 3000, ssrc: UInt32(session + 1))!
                if let l = last {
                    #expect(o.seq == l.seq &+ (i == 0 ? 2 : 1), "session \(session) packet \(i)")
                    #expect(Int32(bitPattern: o.ts &- l.ts) > 0, "session \(session) packet \(i)")
                }
                last = o
            }
        }
        // 4 × 29 frames of 3000 ticks, plus 40, 80 and 120 ms away at 90 kHz.
        let expectedTs: UInt32 = 4 * 87_000 + 3600 + 7200 + 10_800
        #expect(last?.seq == 122 && last?.ts == expectedTs)  // 120 packets, 3 numbers left free
    }

    @Test func ssrcChangeWithoutRestartCallStartsASession() {
        var c = RTPContinuity(outputSSRC: Self.out)
        _ = Self.pass(&c, seq: 10, ts: 1000, ssrc: 1)
        #expect(Self.pass(&c, seq: 0, ts: 0, ssrc: 2)! == (12, 1001))
        #expect(Self.pass(&c, seq: 1, ts: 3000, ssrc: 2)! == (13, 4001))
    }

    @Test func hugeAndNegativeElapsedTimesAreClamped() {
        var c = RTPContinuity(outputSSRC: Self.out)
        _ = Self.pass(&c, seq: 0, ts: 0, ssrc: 1)
        c.sourceRestarted(elapsedSinceLastPacketMs: Int.max, clockRate: 90000)
        #expect(Self.pass(&c, seq: 0, ts: 0, ssrc: 2)!.ts == UInt32(Int32.max))
        c.sourceRestarted(elapsedSinceLastPacketMs: -5, clockRate: 90000)
        #expect(Self.pass(&c, seq: 0, ts: 0, ssrc: 3)!.ts == UInt32(Int32.max) + 1)
        c.sourceRestarted(elapsedSinceLastPacketMs: 100, clockRate: 0)
        #expect(Self.pass(&c, seq: 0, ts: 0, ssrc: 4)!.ts == UInt32(Int32.max) + 2)
    }

    @Test func invalidPacketsAreRefusedUntouched() {
        var c = RTPContinuity(outputSSRC: Self.out)
        for bad: [UInt8] in [[], [0x80, 0x60, 0, 1], [0x40] + Array(Self.packet(seq: 1, ts: 1, ssrc: 1).dropFirst()),
                             [0x80, 200] + Array(Self.packet(seq: 1, ts: 1, ssrc: 1).dropFirst(2))] {
            var bytes = bad
            #expect(!bytes.withUnsafeMutableBytes { c.rewrite($0) })
            #expect(bytes == bad)
        }
        #expect(!c.hasOutput && c.inputSSRC == nil)
    }

    // MARK: RTCP

    static func senderReport(ssrc: UInt32, rtpTimestamp: UInt32) -> [UInt8] {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        return [0x80, 200, 0, 6] + be(ssrc) + [0x83, 0xAA, 0x7E, 0x80, 0, 0, 0, 1] + be(rtpTimestamp) + be(10) + be(1500)
    }

    static func sdes(ssrc: UInt32) -> [UInt8] {
        [0x81, 202, 0, 3, UInt8(ssrc >> 24), UInt8(ssrc >> 16 & 0xFF), UInt8(ssrc >> 8 & 0xFF), UInt8(ssrc & 0xFF),
         1, 3, 0x61, 0x62, 0x63, 0, 0, 0]
    }

    @Test func rewritesSenderReportsOfTheCurrentSession() throws {
        var c = RTPContinuity(outputSSRC: Self.out)
        _ = Self.pass(&c, seq: 100, ts: 90_000, ssrc: 1)
        c.sourceRestarted(elapsedSinceLastPacketMs: 1000, clockRate: 90000)
        // Before the new session's first packet its offset is unknown: nothing to forward.
        var early = Self.senderReport(ssrc: 2, rtpTimestamp: 500)
        #expect(!early.withUnsafeMutableBytes { c.rewriteRTCPSenderReport($0) })
        #expect(early == Self.senderReport(ssrc: 2, rtpTimestamp: 500))
        #expect(Self.pass(&c, seq: 0, ts: 0, ssrc: 2)! == (102, 180_000))

        var compound = Self.senderReport(ssrc: 2, rtpTimestamp: 4500) + Self.sdes(ssrc: 2)
        #expect(compound.withUnsafeMutableBytes { c.rewriteRTCPSenderReport($0) })
        let packets = try RTCPCompound.parse(compound).get()
        #expect(packets[0].ssrc == Self.out && packets[0].senderInfo?.rtpTimestamp == 184_500)
        #expect(packets[0].senderInfo?.ntpTimestamp == 0x83AA_7E80_0000_0001 && packets[0].senderInfo?.packetCount == 10)
        #expect(packets[1].ssrc == Self.out)

        // A stale SR from the previous source is not forwarded, nor is a malformed one.
        var stale = Self.senderReport(ssrc: 1, rtpTimestamp: 4500)
        #expect(!stale.withUnsafeMutableBytes { c.rewriteRTCPSenderReport($0) })
        #expect(stale == Self.senderReport(ssrc: 1, rtpTimestamp: 4500))
        var truncated = Array(Self.senderReport(ssrc: 2, rtpTimestamp: 1).dropLast(4))
        #expect(!truncated.withUnsafeMutableBytes { c.rewriteRTCPSenderReport($0) })
        var lone = Self.sdes(ssrc: 2)
        #expect(!lone.withUnsafeMutableBytes { c.rewriteRTCPSenderReport($0) })
    }

    @Test func senderReportTimestampWraps() throws {
        var c = RTPContinuity(outputSSRC: Self.out)
        _ = Self.pass(&c, seq: 1, ts: UInt32.max - 10, ssrc: 1)
        c.sourceRestarted(elapsedSinceLastPacketMs: 1, clockRate: 90000)
        _ = Self.pass(&c, seq: 1, ts: 0, ssrc: 2)  // offset = max - 10 + 90
        var sr = Self.senderReport(ssrc: 2, rtpTimestamp: 100)
        #expect(sr.withUnsafeMutableBytes { c.rewriteRTCPSenderReport($0) })
        #expect(try RTCPCompound.parse(sr).get()[0].senderInfo?.rtpTimestamp == 179)
    }

    @Test func withoutAGapSessionsContinueByOne() {
        var c = RTPContinuity(outputSSRC: Self.out, sequenceGapAtRestart: 0)
        _ = Self.pass(&c, seq: 500, ts: 100_000, ssrc: 9)
        c.sourceRestarted(elapsedSinceLastPacketMs: 0, clockRate: 8000)
        #expect(Self.pass(&c, seq: 0, ts: 0, ssrc: 9)! == (501, 100_001))
    }
}
