import Foundation
import Glibc
import Testing
@testable import UringRelay

/// A real peer on both sides: ffmpeg encodes an H.264 test pattern and sends it as RTP (with
/// its RTCP sender reports) into the relay; two ffmpeg receivers, each reading the relayed
/// stream at its own port through an SDP file, must decode every frame, and the same frames.
@Suite(.serialized)
struct RTPFFmpegTests {
    static let frames = 50

    /// A program on PATH, or nil (then the test is skipped locally, and fails in CI).
    static func program(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        if TestEnvironment.requirePeers { Issue.record("\(name) is not installed but URING_RELAY_REQUIRE_PEERS=1") }
        return nil
    }

    /// An even port whose successor is free too (for a receiver's RTP and RTCP), learnt by
    /// binding and closing both.
    static func freePortPair() throws -> UInt16 {
        for _ in 0..<64 {
            let a = try Socket.makeDatagramSocket(.ipv4Loopback(port: 0))
            let port = try Socket.localAddress(of: a).port
            defer { close(a) }
            guard port % 2 == 0, port < 65534, let b = try? Socket.makeDatagramSocket(.ipv4Loopback(port: port + 1)) else { continue }
            close(b)
            return port
        }
        throw SystemError(operation: "no free port pair", errno: EADDRINUSE)
    }

    /// Whether some process has bound 127.0.0.1:port for UDP (the receiver is ready).
    static func isBound(_ port: UInt16) -> Bool {
        guard let fd = try? Socket.makeDatagramSocket(.ipv4Loopback(port: port)) else { return true }
        close(fd)
        return false
    }

    static let unblockAndExec = """
        import os, signal, sys
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT, signal.SIGTERM])
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execv(sys.argv[1], sys.argv[1:])
        """

    static func sdp(port: UInt16) -> String {
        """
        v=0
        o=- 0 0 IN IP4 127.0.0.1
        s=uring-relay test
        c=IN IP4 127.0.0.1
        t=0 0
        m=video \(port) RTP/AVP 96
        a=rtpmap:96 H264/90000
        a=fmtp:96 packetization-mode=1

        """
    }

    @Test(arguments: engines)
    func ffmpegThroughTheRelayDecodesEveryFrame(_ engine: EngineChoice) throws {
        guard let ffmpeg = Self.program("ffmpeg"), let python = Self.program("python3") else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rtp-ffmpeg-\(getpid())-\(engine.rawValue)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        let ports = [try Self.freePortPair(), try Self.freePortPair()].sorted()
        #expect(ports[0] != ports[1])
        var c = RTPRelayConfig(listen: .ipv4Loopback(port: 0), destinations: ports.map { .ipv4Loopback(port: $0) })
        c.engine = engine
        c.statsIntervalMs = 0
        let relay = RTPRelay(config: c)
        let info = try relay.start()
        defer { relay.requestStop(); relay.waitUntilStopped() }

        var receivers: [ChildProcess] = []
        var outputs: [URL] = []
        for (i, port) in ports.enumerated() {
            let sdpFile = dir.appendingPathComponent("r\(i).sdp")
            try Self.sdp(port: port).write(to: sdpFile, atomically: true, encoding: .utf8)
            let out = dir.appendingPathComponent("r\(i).framemd5")
            outputs.append(out)
            // Through python3 to unblock SIGINT: a child inherits the spawning thread's signal
            // mask, and the test runner's threads may block it (ffmpeg would never see it).
            receivers.append(try ChildProcess(python, ["-c", Self.unblockAndExec, ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
                                                       "-protocol_whitelist", "file,udp,rtp",
                                                       // Probe 0.5 s, not 5: the whole stream lasts 2 s.
                                                       "-analyzeduration", "500000", "-i", sdpFile.path,
                                                       "-f", "framemd5", "-y", out.path]))
        }
        #expect(pollUntil(10) { ports.allSatisfy { Self.isBound($0) } }, "ffmpeg receivers did not bind their ports")

        let target = "rtp://127.0.0.1:\(info.rtpAddress.port)?rtcpport=\(info.rtcpAddress.port)&pkt_size=1200"
        let sender = try ChildProcess.run(ffmpeg, ["-nostdin", "-hide_banner", "-loglevel", "error", "-re",
                                                   "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                                                   "-frames:v", "\(Self.frames)", "-c:v", "libx264", "-preset", "ultrafast",
                                                   "-tune", "zerolatency", "-g", "25", "-bf", "0", "-pix_fmt", "yuv420p",
                                                   "-f", "rtp", "-payload_type", "96", target])
        #expect(sender.status == 0, "sender: \(sender.stderr)")
        let t0 = MonotonicClock.nowMs()
        // An SDP input ends at an RTCP BYE (ffmpeg 5's sender does not send one): the test
        // says BYE as the source, and the relay fans it out like any source RTCP. Each
        // receiver then drains its decoder, writes every frame and exits by itself.
        usleep(500_000)
        let ssrc = relay.stats().sources.first?.ssrc ?? 0
        let be: [UInt8] = [UInt8(ssrc >> 24), UInt8((ssrc >> 16) & 0xFF), UInt8((ssrc >> 8) & 0xFF), UInt8(ssrc & 0xFF)]
        let bye: [UInt8] = [0x80, 201, 0, 1] + be + [0x81, 203, 0, 1] + be
        let byeFd = try Socket.makeDatagramSocket(.ipv4Loopback(port: 0))
        defer { close(byeFd) }
        _ = bye.withUnsafeBytes { b in info.rtcpAddress.withSockAddr { sendto(byeFd, b.baseAddress, b.count, 0, $0, $1) } }
        let exited = pollUntil(15) { receivers.allSatisfy { !$0.process.isRunning } }
        #expect(exited, "the receivers did not end at the relayed BYE")
        if !exited { for r in receivers { r.signal(SIGINT) } }
        var frameLists: [[Substring]] = []
        for (i, r) in receivers.enumerated() {
            let end = r.finish()
            print("receiver \(i) exited \(MonotonicClock.nowMs() - t0) ms after the sender")
            // The demuxer's idle-read timeout after the stream ended is not a failure.
            let benign = ["Exiting normally", "Connection timed out", "Last message repeated", "Immediate exit requested"]
            let errors = end.stderr.split(separator: "\n").filter { line in !benign.contains { line.contains($0) } }
            #expect(errors.isEmpty, "receiver \(i) stderr: \(end.stderr)")
            let text = (try? String(contentsOf: outputs[i], encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
            frameLists.append(lines.map { $0.split(separator: ",").last ?? "" })
        }
        // Stats are published every 200 ms.
        _ = pollUntil(2) { relay.stats().destinations.allSatisfy { $0.rtcpSent >= 2 } }
        let s = relay.stats()
        #expect(frameLists.map(\.count) == [Self.frames, Self.frames], "decoded frames per receiver")
        #expect(frameLists[0] == frameLists[1], "both receivers decoded the same pictures")
        #expect(s.nonRTP == 0 && s.rtpPackets > Self.frames)
        #expect(s.sources.first?.lost == 0)
        #expect(s.senderReports >= 1, "ffmpeg's RTCP sender reports were relayed")
        #expect(s.rtcpPackets >= 2 && s.destinations.allSatisfy { $0.rtcpSent == s.rtcpPackets })
        #expect(s.destinations.allSatisfy { $0.rtpSent == s.rtpPackets && $0.dropped == 0 })
        print("rtp ffmpeg \(engine): \(s.rtpPackets) RTP packets, \(s.rtcpPackets) RTCP (\(s.senderReports) SR), "
            + "decoded \(frameLists.map(\.count)) frames, jitter \(s.sources.first.map { $0.jitterMs } ?? -1) ms")
    }
}
