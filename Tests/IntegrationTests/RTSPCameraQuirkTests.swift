import Glibc
import Testing
@testable import UringRelay

/// The camera-side cases of cases/rtsp.md through the running relay: a scripted camera (the
/// quirks are exactly what no well-behaved server does, so no real peer can play them) that
/// wants its track URL appended to a base without a slash, moves the interleaved channels to
/// 4-5, and times sessions out after 2 s. It records what the relay sends it.
@Suite(.serialized) struct RTSPCameraQuirkTests {
    struct Seen {
        var requests: [(method: String, uri: String, session: String?, at: Double)] = []
        var receiverReports: [Double] = []
        var finished = false
    }

    @Test(arguments: engines)
    func keepalivesBeforeTheCameraTimeoutReportsAndTheChannelsTheCameraChose(_ engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine) else { return }
        try expectNoFileDescriptorLeak {
            let (listener, address) = try Blocking.listen(.ipv4Loopback(port: 0))
            defer { Glibc.close(listener) }
            let seen = Monitor(Seen())
            let runSeconds = 5.5
            let camera = spawn("camera") { Self.camera(listener: listener, port: address.port, seconds: runSeconds, seen: seen) }
            defer { camera.join() }
            let spec = RTSPPathSpec(name: "cam", source: .pull(RTSPURL.parse("rtsp://127.0.0.1:\(address.port)/tcp/av0_0")!, always: false))
            let relay = try RTSPRelayUnderTest(engine, paths: [spec])
            defer { relay.stop() }
            let (reader, _) = try RTSPRelayCaseTests.play(relay, path: "cam")
            // Media the camera sends on its channel 4 reaches the reader on the reader's channel 0.
            let f = try reader.readFrame()
            #expect(f.channel == 0 && f.payload.count > 12)
            #expect(seen.wait(runSeconds + 5) { $0.finished })
            let s = seen.read { $0 }
            let setup = s.requests.first { $0.method == "SETUP" }
            #expect(setup?.uri == "rtsp://127.0.0.1:\(address.port)/tcp/av0_0/track0", "track URL: \(String(describing: setup))")
            let playAt = s.requests.first { $0.method == "PLAY" }?.at ?? 0
            let keepalives = s.requests.filter { ($0.method == "OPTIONS" || $0.method == "GET_PARAMETER") && $0.at > playAt }
            #expect(keepalives.count >= 3, "keepalives: \(keepalives)")
            #expect(keepalives.allSatisfy { $0.session == "12345678" }, "\(keepalives)")
            var previous = playAt
            for k in keepalives {
                #expect(k.at - previous < 1.9, "a keepalive gap of \(k.at - previous) s against a 2 s camera timeout")
                previous = k.at
            }
            #expect(s.receiverReports.count >= 2, "receiver reports: \(s.receiverReports)")
            if let first = s.receiverReports.first { #expect(first - playAt <= 5) }
            for (a, b) in zip(s.receiverReports, s.receiverReports.dropFirst()) { #expect(b - a <= 5) }
        }
    }

    /// Serves one relay connection for `seconds` after PLAY: replies, RTP on channel 4, and
    /// notes requests and RTCP receiver reports (channel 5).
    static func camera(listener: Int32, port: UInt16, seconds: Double, seen: Monitor<Seen>) {
        defer { seen.update { $0.finished = true } }
        let fd = accept(listener, nil, nil)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        Blocking.setTimeouts(fd, seconds: 0.02)
        let parser = RTSPStreamParser()
        var input: [UInt8] = []
        var playingSince: Double?
        var sequence: UInt16 = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        let sdp = Array("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track0\r\n".utf8)
        while playingSince.map({ now() - $0 < seconds }) ?? true {
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return }
            if n > 0 { input += buffer[..<n] }
            while true {
                let (item, consumed) = parser.next(input)
                guard consumed > 0 else { break }
                if case .interleaved(5, let range) = item, range.count >= 8, input[range.lowerBound + 1] == 201 {
                    seen.update { $0.receiverReports.append(now()) }  // an RR on the RTCP channel we gave
                }
                input.removeFirst(consumed)
                switch item {
                case .message(let m):
                    guard case .request(let method, let uri) = m.startLine else { continue }
                    seen.update { $0.requests.append((method, uri, m.header("Session"), now())) }
                    var h: [(String, String)] = [("CSeq", m.cseq ?? "0")]
                    var body: [UInt8] = []
                    switch method {
                    case "DESCRIBE": body = sdp
                        h.append(("Content-Type", "application/sdp"))
                    case "SETUP":
                        h += [("Session", "12345678;timeout=2"), ("Transport", "RTP/AVP/TCP;unicast;interleaved=4-5")]
                    case "PLAY":
                        h.append(("Session", "12345678"))
                        playingSince = now()
                    default:
                        h.append(("Session", "12345678"))
                    }
                    let reply = RTSPMessage(response: 200, headers: h, body: body).serialized()
                    _ = reply.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                default:
                    break
                }
            }
            if playingSince != nil {
                let nal = TestRTP.nal(keyframe: sequence % 25 == 0, index: Int(sequence))
                let p = TestRTP.packet(sequence: sequence, timestamp: UInt32(sequence) * 3600, ssrc: 0xCAFE, nal: nal)
                let frame = [0x24, 4, UInt8(p.count >> 8), UInt8(p.count & 0xFF)] + p
                _ = frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                sequence &+= 1
            }
        }
    }
}
