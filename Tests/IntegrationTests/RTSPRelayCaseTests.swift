import Glibc
import Testing
@testable import UringRelay

/// The cases of cases/rtsp.md that are about the relay's server side, byte by byte through
/// the running relay on both engines, with a scripted publisher and scripted readers.
@Suite(.serialized) struct RTSPRelayCaseTests {
    static let paths = [RTSPPathSpec(name: "pub", source: .publish), RTSPPathSpec(name: "site/cam", source: .publish)]

    /// Runs `body` against a relay of `paths` on `engine` (skipped where the engine cannot run),
    /// checking that nothing leaks an fd.
    static func withRelay(_ engine: EngineChoice, paths: [RTSPPathSpec] = paths,
                          configure: (inout RTSPRelayConfig) -> Void = { _ in },
                          _ body: (RTSPRelayUnderTest) throws -> Void) throws {
        guard TestEnvironment.canRun(engine) else { return }
        try expectNoFileDescriptorLeak {
            let relay = try RTSPRelayUnderTest(engine, paths: paths, configure: configure)
            defer { relay.stop() }
            try body(relay)
        }
    }

    /// A publisher that announced and is recording on `path` over channels `channel`-`channel+1`.
    static func publish(_ relay: RTSPRelayUnderTest, path: String = "pub", channel: Int = 0) throws -> RTSPTestClient {
        let p = try RTSPTestClient(relay.address)
        let a = try p.request("ANNOUNCE", relay.url(path), [("Content-Type", "application/sdp")], body: TestRTP.sdp)
        #expect(a.status == 200, "ANNOUNCE: \(a)")
        let s = try p.request("SETUP", relay.url(path) + "/streamid=0",
                              [("Transport", "RTP/AVP/TCP;unicast;interleaved=\(channel)-\(channel + 1);mode=record")])
        #expect(s.status == 200, "SETUP: \(s)")
        let t = RTSPTransport.parseList(s.header("Transport") ?? "").first
        #expect(t?.interleaved == RTSPPortPair(first: channel, second: channel + 1), "asked pair echoed: \(s)")
        let r = try p.request("RECORD", relay.url(path))
        #expect(r.status == 200, "RECORD: \(r)")
        return p
    }

    /// A reader playing `path` over TCP; `transport` is the SETUP Transport value.
    static func play(_ relay: RTSPRelayUnderTest, path: String = "pub", setupURI: String? = nil,
                     transport: String = "RTP/AVP/TCP;unicast;interleaved=0-1") throws -> (RTSPTestClient, RTSPMessage) {
        let r = try RTSPTestClient(relay.address)
        let d = try r.request("DESCRIBE", relay.url(path), [("Accept", "application/sdp")])
        #expect(d.status == 200, "DESCRIBE: \(d)")
        let s = try r.request("SETUP", setupURI ?? relay.url(path) + "/trackID=0", [("Transport", transport)])
        #expect(s.status == 200, "SETUP: \(s)")
        let p = try r.request("PLAY", relay.url(path))
        #expect(p.status == 200, "PLAY: \(p)")
        return (r, s)
    }

    @Test(arguments: engines)
    func publisherAsksForChannels2and3AndReaderWithoutInterleavedGetsAPair(_ engine: EngineChoice) throws {
        try Self.withRelay(engine) { relay in
            let publisher = try Self.publish(relay, channel: 2)
            let (reader, setup) = try Self.play(relay, transport: "RTP/AVP/TCP;unicast")
            let pair = RTSPTransport.parseList(setup.header("Transport") ?? "").first?.interleaved
            #expect(pair == RTSPPortPair(first: 0, second: 1), "allocated pair: \(setup)")
            // Media from channel 2 reaches the reader on its channel 0, starting at the keyframe.
            try publisher.sendFrame(channel: 2, TestRTP.packet(sequence: 10, timestamp: 900, ssrc: 0x1234, nal: TestRTP.nal(keyframe: true, index: 1)))
            try publisher.sendFrame(channel: 2, TestRTP.packet(sequence: 11, timestamp: 4500, ssrc: 0x1234, nal: TestRTP.nal(keyframe: false, index: 2)))
            var got: [Int] = []
            while got.count < 2 {
                let f = try reader.readFrame()
                #expect(f.channel == 0)
                if let i = TestRTP.index(of: f.payload), f.payload[12] & 0x1F != 24 { got.append(i) }
            }
            #expect(got == [1, 2])
        }
    }

    @Test(arguments: engines)
    func aPublisherLeavingTheSessionOffItsSetupIsUnderstood(_ engine: EngineChoice) throws {
        try Self.withRelay(engine) { relay in
            let p = try RTSPTestClient(relay.address)
            #expect(try p.request("ANNOUNCE", relay.url("pub"), [("Content-Type", "application/sdp")], body: TestRTP.sdp).status == 200)
            let setup = try p.request("SETUP", relay.url("pub") + "/streamid=0",
                                      [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record")], withSession: false)
            #expect(setup.status == 200, "\(setup)")
            #expect(try p.request("RECORD", relay.url("pub")).status == 200)
            // Another connection cannot use that leniency: it has no announced session.
            let other = try RTSPTestClient(relay.address)
            #expect(try other.request("SETUP", relay.url("pub") + "/streamid=0",
                                      [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record")]).status == 461)
        }
    }

    @Test(arguments: engines)
    func setupAndPlayWorkWithAndWithoutTrailingSlashAndOnNestedPaths(_ engine: EngineChoice) throws {
        try Self.withRelay(engine) { relay in
            let publisher = try Self.publish(relay, path: "site/cam")
            _ = publisher
            for uri in [relay.url("site/cam"), relay.url("site/cam") + "/", relay.url("site/cam") + "/trackID=0", relay.url("site/cam") + "/trackID=0/"] {
                let r = try RTSPTestClient(relay.address)
                #expect(try r.request("DESCRIBE", relay.url("site/cam") + "/").status == 200)
                let s = try r.request("SETUP", uri, [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")])
                #expect(s.status == 200, "SETUP \(uri): \(s)")
                let p = try r.request("PLAY", uri.hasSuffix("/") ? relay.url("site/cam") + "/" : relay.url("site/cam"))
                #expect(p.status == 200, "PLAY after SETUP \(uri): \(p)")
                #expect(p.header("RTP-Info")?.contains("trackID=0") == true, "\(p)")
            }
        }
    }

    @Test(arguments: engines)
    func keepalivesKeepTheSessionAndErrorsHaveTheRightCodes(_ engine: EngineChoice) throws {
        try Self.withRelay(engine) { relay in
            let publisher = try Self.publish(relay)
            _ = publisher
            let (reader, _) = try Self.play(relay)
            #expect(try reader.request("SET_PARAMETER", relay.url("pub")).status == 200)
            #expect(try reader.request("GET_PARAMETER", relay.url("pub")).status == 200)
            #expect(try reader.request("OPTIONS", relay.url("pub")).header("Public")?.contains("GET_PARAMETER") == true)
            // Errors: unknown path, unknown session, unsupported transport, wrong state, unknown method.
            let other = try RTSPTestClient(relay.address)
            #expect(try other.request("DESCRIBE", relay.url("nope")).status == 404)
            #expect(try other.request("PLAY", relay.url("pub"), [("Session", "DEADBEEF")]).status == 454)
            #expect(try other.request("GET_PARAMETER", relay.url("pub"), [("Session", "DEADBEEF")]).status == 454)
            #expect(try other.request("SETUP", relay.url("pub") + "/trackID=0",
                                      [("Transport", "RTP/AVP;multicast;destination=224.2.0.1;port=5000-5001")]).status == 461)
            #expect(try other.request("SETUP", relay.url("pub") + "/trackID=7", [("Transport", "RTP/AVP/TCP;interleaved=0-1")]).status == 404)
            #expect(try other.request("RECORD", relay.url("pub"), withSession: false).status == 454)
            #expect(try reader.request("RECORD", relay.url("pub")).status == 455)
            #expect(try other.request("FROBNICATE", relay.url("pub")).status == 501)
            // A second publisher on a path that has one.
            #expect(try other.request("ANNOUNCE", relay.url("pub"), body: TestRTP.sdp).status == 455)
            // No CSeq: 400, and the connection is closed.
            try other.sendRaw(Array("OPTIONS * RTSP/1.0\r\n\r\n".utf8))
            #expect(try other.readMessage().status == 400)
            #expect(other.waitForClose(10), "closed after the 400")
            #expect(try reader.request("TEARDOWN", relay.url("pub")).status == 200)
            #expect(try reader.request("PLAY", relay.url("pub")).status == 454)
        }
    }

    @Test(arguments: engines)
    func aReaderSendingOnlyRTCPIsAliveAndASilentOneIsReaped(_ engine: EngineChoice) throws {
        try Self.withRelay(engine, configure: { $0.sessionTimeoutMs = 1_500 }) { relay in
            let publisher = try Self.publish(relay)
            _ = publisher
            // Two UDP readers; only one sends receiver reports to the relay's RTCP port.
            var sockets: [(rtp: Int32, rtcp: Int32)] = []
            defer { for s in sockets { Glibc.close(s.rtp); Glibc.close(s.rtcp) } }
            var readers: [RTSPTestClient] = []
            for _ in 0..<2 {
                let rtp = try Socket.makeDatagramSocket(.ipv4Loopback(port: 0))
                let port = try Socket.localAddress(of: rtp).port
                let rtcp = try Socket.makeDatagramSocket(.ipv4Loopback(port: port + 1))
                sockets.append((rtp, rtcp))
                let (r, s) = try Self.play(relay, transport: "RTP/AVP;unicast;client_port=\(port)-\(port + 1)")
                let t = RTSPTransport.parseList(s.header("Transport") ?? "").first
                #expect(t?.serverPort?.first == Int(relay.udpPort), "\(s)")
                readers.append(r)
            }
            let rr = RTCPReceiverReport.build(reporterSSRC: 7, sourceSSRC: 1, fractionLost: 0, cumulativeLost: 0,
                                              extendedHighestSequence: 0, jitter: 0, lastSenderReport: 0, delaySinceLastSenderReport: 0)
            let relayRTCP = SocketAddress.ipv4Loopback(port: relay.udpPort + 1)
            let deadline = now() + 3.5
            while now() < deadline {
                _ = rr.withUnsafeBytes { b in relayRTCP.withSockAddr { Glibc.sendto(sockets[0].rtcp, b.baseAddress, b.count, 0, $0, $1) } }
                usleep(300_000)  // the reports' period, not a wait for anything
            }
            #expect(try readers[0].request("GET_PARAMETER", relay.url("pub")).status == 200, "the reporting reader is alive")
            // The silent one's session is gone: 454, or its idle connection already closed.
            let silent = try? readers[1].request("GET_PARAMETER", relay.url("pub"))
            #expect(silent == nil || silent?.status == 454, "the silent reader was reaped: \(String(describing: silent))")
        }
    }

    @Test(arguments: engines)
    func aWholeNALOf2301BytesInOneInterleavedFramePassesIntact(_ engine: EngineChoice) throws {
        try Self.withRelay(engine) { relay in
            let publisher = try Self.publish(relay)
            let (reader, _) = try Self.play(relay)
            let big = TestRTP.packet(sequence: 1, timestamp: 0, ssrc: 9, nal: TestRTP.nal(keyframe: true, index: 5, bytes: 2301 - 12))
            #expect(big.count == 2301)
            try publisher.sendFrame(channel: 0, big)
            var f = try reader.readFrame()
            if f.payload[12] & 0x1F == 24 { f = try reader.readFrame() }  // the SPS/PPS STAP-A first
            #expect(f.payload.count == 2301 && Array(f.payload[12...]) == Array(big[12...]))
        }
    }

    @Test(arguments: engines)
    func aRepublishedStreamRestartingAtZeroStaysContinuousForReaders(_ engine: EngineChoice) throws {
        try Self.withRelay(engine) { relay in
            var publisher = try Self.publish(relay)
            let (reader, setup) = try Self.play(relay)
            let announcedSSRC = RTSPTransport.parseList(setup.header("Transport") ?? "").first?.ssrc
            var index = 0
            func burst(_ p: RTSPTestClient, startSeq: UInt16, startTs: UInt32, ssrc: UInt32) throws {
                for k in 0..<20 {
                    index += 1
                    try p.sendFrame(channel: 0, TestRTP.packet(sequence: startSeq &+ UInt16(k), timestamp: startTs &+ UInt32(k) * 3600,
                                                               ssrc: ssrc, nal: TestRTP.nal(keyframe: k == 0, index: index)))
                }
            }
            try burst(publisher, startSeq: 40000, startTs: 123_456_789, ssrc: 0xAAAA)
            // Every packet the reader gets, the relay's SPS/PPS packets (STAP-A) included:
            // they take the sequence number left free at the restart.
            var packets: [[UInt8]] = []
            func media() -> Int { packets.filter { $0[12] & 0x1F != 24 }.count }
            while media() < 20 { packets.append(try reader.readFrame().payload) }
            publisher.close()
            // The publisher is gone: the reader stays. A new one starts again at 0.
            publisher = try Self.publish(relay)
            try burst(publisher, startSeq: 0, startTs: 0, ssrc: 0xBBBB)
            while media() < 40 { packets.append(try reader.readFrame().payload) }
            let headers = packets.compactMap { try? RTPHeader.parse($0).get() }
            #expect(headers.count == packets.count)
            #expect(Set(headers.map(\.ssrc)).count == 1, "one SSRC for readers")
            if let announcedSSRC { #expect(headers.first?.ssrc == announcedSSRC) }
            for (k, (a, b)) in zip(headers, headers.dropFirst()).enumerated() {
                #expect(b.sequenceNumber == a.sequenceNumber &+ 1, "sequence continuous: \(a.sequenceNumber) → \(b.sequenceNumber)")
                // An SPS/PPS packet carries its keyframe's timestamp; media packets rise.
                let sameFrame = packets[k][12] & 0x1F == 24
                let step = Int32(bitPattern: b.timestamp &- a.timestamp)
                #expect(sameFrame ? step == 0 : step > 0, "timestamps rise: \(a.timestamp) → \(b.timestamp)")
            }
            #expect(packets.filter { $0[12] & 0x1F != 24 }.compactMap(TestRTP.index(of:)) == Array(1...40))
            #expect(packets.filter { $0[12] & 0x1F == 24 }.count == 2, "SPS/PPS before each session's first keyframe")
        }
    }

    @Test(arguments: engines)
    func aTCPReaderThatStopsReadingIsDroppedWhileAnotherGetsEveryPacket(_ engine: EngineChoice) throws {
        try Self.withRelay(engine, configure: { $0.readerQueueBytes = 256 << 10 }) { relay in
            let publisher = try Self.publish(relay)
            let (fast, _) = try Self.play(relay)
            // A small receive window, so the kernel cannot absorb the stream for it.
            let slow = try RTSPTestClient(relay.address, receiveBuffer: 4096)
            #expect(try slow.request("DESCRIBE", relay.url("pub")).status == 200)
            #expect(try slow.request("SETUP", relay.url("pub") + "/trackID=0", [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]).status == 200)
            #expect(try slow.request("PLAY", relay.url("pub")).status == 200)
            let count = 10_000
            let received = Monitor<[Int]>([])
            let readerThread = spawn("fast-reader") {
                while received.read({ $0.count }) < count {
                    guard let f = try? fast.readFrame() else { break }
                    if f.payload[12] & 0x1F != 24, let i = TestRTP.index(of: f.payload) { received.update { $0.append(i) } }
                }
            }
            // 10000 × 1.2 KB at 2000 packets/s (a 20 Mbit/s stream, paced as a camera would):
            // more than the slow reader's 256 KiB queue and the relay's socket buffer can hold.
            for k in 0..<count {
                try publisher.sendFrame(channel: 0, TestRTP.packet(sequence: UInt16(k & 0xFFFF), timestamp: UInt32(k) * 3000, ssrc: 5,
                                                                   nal: TestRTP.nal(keyframe: k % 100 == 0, index: k, bytes: 1200)))
                if k % 20 == 19 { usleep(10_000) }  // the stream's rate, not a wait for anything
            }
            #expect(received.wait(20) { $0.count >= count }, "the reading reader got \(received.read { $0.count }) of \(count)")
            readerThread.join()
            let got = received.read { $0 }
            let firstWrong = zip(got, 0..<count).first { $0.0 != $0.1 }
            #expect(got.count == count && firstWrong == nil, "every packet in order: \(got.count) received, first out of place \(String(describing: firstWrong))")
            #expect(relay.counters.readersDroppedTotal == 1, "the stalled reader was dropped")
            #expect(slow.waitForClose(5), "and its connection closed")
        }
    }

    @Test(arguments: engines)
    func statusCodesForVersionsMethodsProfilesAndPorts(_ engine: EngineChoice) throws {
        try Self.withRelay(engine) { relay in
            let publisher = try Self.publish(relay)
            _ = publisher
            let c = try RTSPTestClient(relay.address)
            #expect(try c.request("options", relay.url("pub")).status == 501, "method names are case-sensitive")
            let required = try c.request("OPTIONS", relay.url("pub"), [("Require", "funky-feature")])
            #expect(required.status == 551 && required.header("Unsupported") == "funky-feature", "\(required)")
            #expect(try c.request("DESCRIBE", relay.url("pub"), [("Accept", "text/html")]).status == 406)
            #expect(try c.request("DESCRIBE", relay.url("pub"), [("Accept", "application/sdp, application/rtsl")]).status == 200)
            #expect(try c.request("SETUP", relay.url("pub") + "/trackID=0", [("Transport", "RAW/RAW/UDP;unicast;client_port=5000-5001")]).status == 461)
            // Media to the relay's own ports would loop.
            let own = Int(relay.udpPort)
            #expect(try c.request("SETUP", relay.url("pub") + "/trackID=0", [("Transport", "RTP/AVP;unicast;client_port=\(own)-\(own + 1)")]).status == 461)
            // A client_port pair another session has.
            #expect(try c.request("SETUP", relay.url("pub") + "/trackID=0", [("Transport", "RTP/AVP;unicast;client_port=40000-40001")]).status == 200)
            let d = try RTSPTestClient(relay.address)
            #expect(try d.request("SETUP", relay.url("pub") + "/trackID=0", [("Transport", "RTP/AVP;unicast;client_port=40000-40001")]).status == 461)
            try d.sendRaw(Array("OPTIONS * RTSP/2.0\r\nCSeq: 9\r\n\r\n".utf8))
            #expect(try d.readMessage().status == 505)
            #expect(d.waitForClose(10))
            // A header larger than the relay takes: a readable 400, then the close.
            let big = try RTSPTestClient(relay.address)
            try big.sendRaw(Array("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Big: ".utf8) + [UInt8](repeating: 0x61, count: 100_000))
            #expect(try big.readMessage().status == 400)
        }
    }

    @Test(arguments: engines)
    func halfRequestsAndIdleConnectionsAreClosedAndOneAddressCannotTakeEverySlot(_ engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine) else { return }
        try expectNoFileDescriptorLeak {
            let relay = try RTSPRelayUnderTest(engine, paths: Self.paths) {
                $0.requestTimeoutMs = 300
                $0.idleTimeoutMs = 600
                $0.maxConnectionsPerIP = 3
            }
            defer { relay.stop() }
            let slow = try RTSPTestClient(relay.address)
            try slow.sendRaw(Array("DESCRIBE rtsp://x/pub RTSP/1.0\r\nCSe".utf8))
            #expect(try slow.readMessage().status == 408)
            #expect(slow.waitForClose(10))
            let idle = try RTSPTestClient(relay.address)
            #expect(try idle.request("OPTIONS", relay.url("pub")).status == 200)
            #expect(idle.waitForClose(10), "no session, no request: closed after the idle timeout")
            let held = try (0..<3).map { _ in try RTSPTestClient(relay.address) }
            for h in held { #expect(try h.request("OPTIONS", relay.url("pub")).status == 200) }
            let fourth = try RTSPTestClient(relay.address)
            #expect(fourth.waitForClose(10), "a fourth connection from one IP is refused")
        }
    }

    @Test(arguments: engines)
    func anIPv4ReaderOverUDPGetsMediaFromARelayListeningOnAllIPv6Addresses(_ engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine) else { return }
        try expectNoFileDescriptorLeak {
            let relay = try RTSPRelayUnderTest(engine, paths: Self.paths, listen: .ipv6Any(port: 0))
            defer { relay.stop() }
            let publisher = try Self.publish(relay)
            let rtp = try Socket.makeDatagramSocket(.ipv4Loopback(port: 0))
            let ipv4 = SocketAddress.ipv4Loopback(port: relay.address.port)
            defer { Glibc.close(rtp) }
            Blocking.setBlocking(rtp)
            Blocking.setTimeouts(rtp, seconds: 5)
            let port = try Socket.localAddress(of: rtp).port
            let r = try RTSPTestClient(ipv4)
            let d = try r.request("DESCRIBE", relay.url("pub"))
            #expect(d.header("Content-Base") == "rtsp://127.0.0.1:\(relay.address.port)/pub/", "\(d)")
            #expect(try r.request("SETUP", relay.url("pub") + "/trackID=0", [("Transport", "RTP/AVP;unicast;client_port=\(port)-\(port + 1)")]).status == 200)
            #expect(try r.request("PLAY", relay.url("pub")).status == 200)
            try publisher.sendFrame(channel: 0, TestRTP.packet(sequence: 1, timestamp: 0, ssrc: 3, nal: TestRTP.nal(keyframe: true, index: 77)))
            var buffer = [UInt8](repeating: 0, count: 2048)
            var got: Int? = nil
            for _ in 0..<3 {
                let n = buffer.withUnsafeMutableBytes { Glibc.recv(rtp, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { break }
                if buffer[12] & 0x1F != 24 { got = TestRTP.index(of: Array(buffer[..<n])); break }
            }
            #expect(got == 77, "the keyframe reached the IPv4 reader over UDP")
        }
    }

    @Test(arguments: engines)
    func aNewPublisherWithOtherTracksEndsTheReadersOfTheOldOnes(_ engine: EngineChoice) throws {
        try Self.withRelay(engine) { relay in
            let first = try Self.publish(relay)
            let (reader, _) = try Self.play(relay)
            first.close()
            // Video and audio now: the reader's decoder was set up for one H.264 track.
            let twoTracks = TestRTP.sdp + Array("m=audio 0 RTP/AVP 0\r\na=control:streamid=1\r\n".utf8)
            let second = try RTSPTestClient(relay.address)
            #expect(try second.request("ANNOUNCE", relay.url("pub"), [("Content-Type", "application/sdp")], body: twoTracks).status == 200)
            #expect(reader.waitForClose(10), "the old reader is closed")
            #expect(try second.request("SETUP", relay.url("pub") + "/streamid=0",
                                       [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record")]).status == 200)
            #expect(try second.request("RECORD", relay.url("pub")).status == 200)
            // A new reader sees both tracks.
            let again = try RTSPTestClient(relay.address)
            let d = try again.request("DESCRIBE", relay.url("pub"))
            #expect(String(decoding: d.body, as: UTF8.self).contains("m=audio"), "\(d)")
        }
    }
}
