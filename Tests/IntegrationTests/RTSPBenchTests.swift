import Glibc
import Testing
@testable import relay_bench
@testable import UringRelay

/// relay-bench's rtsp scenario: its synthetic stream and packet checks on their own, then the
/// quick plan in miniature through the real `uring-relay rtsp` on both engines.
@Suite(.serialized) struct RTSPBenchTests {
    static let stream = RTSPBenchStream(bitsPerSecond: 2_000_000)

    /// Every packet of two GOPs, written as the publisher writes it.
    static func packets(_ s: RTSPBenchStream, dueNs: (Int) -> UInt64) -> [[UInt8]] {
        (0..<(2 * s.packetsPerGOP)).map { k in
            var p = [UInt8](repeating: 0, count: s.maxPacketBytes)
            let n = p.withUnsafeMutableBytes { RTSPBenchPayload.write(k, of: s, dueNs: dueNs(s.place(of: k).frame), into: $0.baseAddress!) }
            return Array(p[0..<n])
        }
    }

    static func due(_ frame: Int) -> UInt64 { 1_000_000 + UInt64(frame) * 40_000_000 }

    @Test func streamLayoutAddsUp() {
        for bits in [500_000, 2_000_000, 8_000_000, 50_000_000] {
            let s = RTSPBenchStream(bitsPerSecond: bits)
            var bytes = 0, frames = Set<Int>()
            for k in 0..<s.packetsPerGOP {
                let p = s.place(of: k)
                frames.insert(p.frame)
                #expect(p.keyframe == (p.frame == 0))
                #expect(s.firstPacket(ofFrame: p.frame) + p.fragment == k)
                bytes += p.nalBytes + (p.fragments == 1 ? 0 : 1)  // an FU-A's NAL header byte is not sent
            }
            #expect(frames == Set(0..<s.keyframeInterval))
            #expect(s.firstPacket(ofFrame: s.keyframeInterval) == s.packetsPerGOP)
            // One GOP is one second here: its NAL bytes are the bitrate within rounding.
            #expect(abs(Double(bytes * 8) - Double(bits)) / Double(bits) < 0.01, "\(bits) bit/s: \(bytes * 8) per GOP")
            #expect(s.place(of: s.packetsPerGOP).isKeyframeStart)
        }
    }

    @Test func packetsAreWhatTheRelayExpectsAndEveryByteIsChecked() {
        let s = Self.stream
        let all = Self.packets(s, dueNs: Self.due)
        for (k, p) in all.enumerated() {
            #expect(p.count <= s.maxPacketBytes)
            guard case .success(let h) = RTPHeader.parse(p) else { Issue.record("packet \(k): bad RTP header"); continue }
            // The relay's keyframe detection must see exactly the keyframe starts.
            let info = H264RTPPayload.inspect(Array(p[h.headerLength...]))
            #expect(info.startsKeyframe == s.place(of: k).isKeyframeStart, "packet \(k)")
            #expect(info.sps == nil && info.pps == nil)
            #expect(p.withUnsafeBytes { RTSPBenchPayload.check($0, of: s, dueNs: Self.due) } == .media(index: k, header: h))
        }
        // Rewritten SSRC, sequence and timestamp (as the relay does) still identify the packet.
        var rewritten = all[7]
        rewritten[2] ^= 0x5A; rewritten[5] ^= 0x33; rewritten[9] ^= 0xFF
        guard case .media(let k, _) = rewritten.withUnsafeBytes({ RTSPBenchPayload.check($0, of: s, dueNs: Self.due) }) else {
            Issue.record("rewritten header not accepted")
            return
        }
        #expect(k == 7)
        // One changed payload byte anywhere, a cut packet, a changed marker: invalid.
        for i in [12, 13, 14, 20, 30, 600, all[3].count - 1] {
            var bad = all[3]
            bad[i] ^= 0x01
            guard case .invalid = bad.withUnsafeBytes({ RTSPBenchPayload.check($0, of: s, dueNs: Self.due) }) else {
                Issue.record("byte \(i) changed but accepted")
                continue
            }
        }
        var cut = all[3]
        cut.removeLast()
        guard case .invalid = cut.withUnsafeBytes({ RTSPBenchPayload.check($0, of: s, dueNs: Self.due) }) else {
            Issue.record("cut packet accepted")
            return
        }
        var marker = all[s.packetsPerKeyframe - 1]
        marker[1] &= 0x7F
        guard case .invalid = marker.withUnsafeBytes({ RTSPBenchPayload.check($0, of: s, dueNs: Self.due) }) else {
            Issue.record("missing marker accepted")
            return
        }
    }

    @Test func parameterSetsComeFromTheSDPAndAreRecognisedInASTAPA() {
        guard let sdp = SessionDescription.parse(Array(Self.stream.sessionDescription.utf8)), let m = sdp.media.first else {
            Issue.record("SDP does not parse")
            return
        }
        #expect(m.control == "trackID=0" && m.encodingName?.uppercased() == "H264" && m.clockRate == 90_000)
        #expect(H264Parameters.fromFmtp(m.fmtp ?? "") == H264Parameters(sps: RTSPBenchStream.sps, pps: RTSPBenchStream.pps))
        var packet: [UInt8] = [0x80, RTSPBenchStream.payloadType, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]
        packet += H264RTPPayload.stapA([RTSPBenchStream.sps, RTSPBenchStream.pps])
        #expect(packet.withUnsafeBytes { RTSPBenchPayload.check($0, of: Self.stream, dueNs: Self.due) } == .parameterSets)
        packet[packet.count - 1] ^= 1
        #expect(packet.withUnsafeBytes { RTSPBenchPayload.check($0, of: Self.stream, dueNs: Self.due) } != .parameterSets)
    }

    /// A reader's accounting from an interleaved byte stream cut at random places, as TCP
    /// reads cut it: the window's packets counted once, a keyframe start first, the STAP-A
    /// before it noted, a gap in the sequence numbers caught.
    @Test func readerCountsTheWindowFromAnyCutOfTheStream() {
        let s = Self.stream
        let shared = RTSPLoadShared(stream: s, t0Ns: 1_000_000, endFrame: 100)
        let first = s.firstPacket(ofFrame: 25), windowStart = first + 40, windowEnd = first + 140
        shared.windowStart.store(windowStart, ordering: .relaxed)
        shared.windowEnd.store(windowEnd, ordering: .relaxed)
        var stap: [UInt8] = [0x80, RTSPBenchStream.payloadType, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        stap += H264RTPPayload.stapA([RTSPBenchStream.sps, RTSPBenchStream.pps])
        var bytes: [UInt8] = []
        for p in [stap] + Self.packets(s, dueNs: shared.dueNs)[first...] {
            var q = p
            // The relay's sequence numbers: shifted, continuous (the STAP-A takes the one before).
            let k = p.count > 12 && p[12] != 24 ? Int(p.withUnsafeBytes { UInt16(bigEndian: $0.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) }) : first - 1
            let seq = UInt16(truncatingIfNeeded: k &+ 1000)
            q[2] = UInt8(seq >> 8); q[3] = UInt8(seq & 0xFF)
            bytes += [0x24, 0, UInt8(q.count >> 8), UInt8(q.count & 0xFF)] + q
            bytes += [0x24, 1, 0, 4, 0x80, 0xC9, 0, 0]  // an RTCP frame on the odd channel: skipped
        }
        var generator = SystemRandomNumberGenerator()
        let r = RTSPBenchReader(transport: .tcp)
        var histogram = LatencyHistogram()
        var carry: [UInt8] = []
        var at = 0
        while at < bytes.count {
            let n = min(bytes.count - at, Int.random(in: 1...3000, using: &generator))
            let chunk = carry + bytes[at..<(at + n)]
            at += n
            let used = chunk.withUnsafeBytes { r.feed($0, nowNs: 2_000_000_000, shared: shared, histogram: &histogram) }
            carry = Array(chunk[used...])
        }
        #expect(carry.isEmpty && r.ended == nil)
        #expect(r.corrupt == 0 && r.outOfOrder == 0 && r.continuityErrors == 0, "\(r.firstCorruption ?? "") \(r.firstContinuityError ?? "")")
        #expect(r.parameterSetsFirst && r.startedOnKeyframe == true && r.firstKeyframeNs == 2_000_000_000)
        #expect(r.inWindow == windowEnd - windowStart && r.lastWindowIndex == windowEnd - 1)
        #expect(Int(histogram.count) == windowEnd - windowStart)
        #expect(r.received == 2 * s.packetsPerGOP - first)
    }

    /// The quick plan shrunk to about a second per step, through the real relay, both engines:
    /// every reader held, nothing lost over TCP, both engines in the report.
    @Test func quickPlanThroughTheRelay() throws {
        let engines = ["uring", "epoll"].filter { TestEnvironment.canRun($0 == "uring" ? .uring : .epoll) }
        let parser = BenchOptions.parser(command: "relay-bench rtsp", summary: "", scenarioFlags: RTSPBenchOptions.specs)
        let options = try BenchOptions.parse(["--quick", "--rounds", "1", "--duration", "1s", "--relay", TestEnvironment.relayBinary]
                                                 + engines.flatMap { ["--engine", $0] }, parser: parser)
        let unpinned = BenchEnvironment(kernel: "", cpuModel: "", cores: 1, relayCPU: nil, loadCPU: nil)
        let report = try RTSPScenario().run(options: options, environment: unpinned)
        #expect(report.unavailable.isEmpty, "\(report.unavailable)")
        #expect(report.tables.count == 2)
        #expect(Set(report.results.map(\.engine)) == Set(engines))
        for r in report.results {
            #expect(r.problems == [], "\(r.engine) \(r.params[0].1)")
            func metric(_ key: String) -> Double? { r.metrics.first { $0.key == key }?.value }
            #expect(metric("readers_opened") == 10)
            #expect(metric("readers_held") == metric("readers_opened"), "\(r.engine) \(r.params[0].1)")
            if r.params[0].1 == "tcp" { #expect(metric("lost_packets") == 0) }
            #expect((metric("delivered_packets_per_s") ?? 0) > 0)
            #expect(metric("first_frame_p50_ms") != nil)
            #expect(r.histogram != nil)
        }
        // One latency chart per table, named after transport, readers and bitrate.
        #expect(BenchCharts(results: report.results, tables: report.tables).charts().map(\.file)
                == ["rtsp-fanout-tcp-10readers-2Mbit-latency.svg", "rtsp-fanout-udp-10readers-2Mbit-latency.svg"])
    }
}
