import Glibc
import Testing
@testable import UringRelay

/// The RTSP relay with real peers on both engines: GStreamer's RTSP server as the camera,
/// ffmpeg publishing with ANNOUNCE/RECORD, ffmpeg and GStreamer (rtspsrc) as readers that
/// decode every frame they get.
@Suite(.serialized) struct RTSPRelayPeerTests {
    /// `name` ("ffmpeg-udp", ...) reading `url`, or nil when its program is missing.
    static func reader(_ name: String, _ url: String) throws -> RTSPReader? {
        let transport = RTSPMediaTransport(rawValue: String(name.split(separator: "-")[1]))!
        if name.hasPrefix("ffmpeg") {
            return FFmpegRTSPReader.canRun() ? try FFmpegRTSPReader.start(url, transport: transport) : nil
        }
        return GStreamerRTSPReader.canRun() ? try GStreamerRTSPReader.start(url, transport: transport) : nil
    }

    static func pulled(_ source: RTSPSourcePeer, name: String = "cam", always: Bool = false, url: String? = nil) -> RTSPPathSpec {
        RTSPPathSpec(name: name, source: .pull(RTSPURL.parse(url ?? source.url(path: "/cam"))!, always: always))
    }

    @Test(arguments: engines)
    func tenReadersOfOnePulledCameraEachDecodeEveryFrame(_ engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), RTSPSourcePeer.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let source = try RTSPSourcePeer()
            let relay = try RTSPRelayUnderTest(engine, paths: [Self.pulled(source)])
            defer { relay.stop() }
            let names = ["ffmpeg-tcp", "ffmpeg-udp", "gstreamer-tcp", "gstreamer-udp", "ffmpeg-tcp",
                         "ffmpeg-udp", "gstreamer-tcp", "gstreamer-udp", "ffmpeg-tcp", "gstreamer-tcp"]
            var readers: [RTSPReader] = []
            for n in names { if let r = try Self.reader(n, relay.url("cam")) { readers.append(r) } }
            guard readers.count == names.count else { return }
            for r in readers {
                #expect(r.waitForFrames(50, timeout: 20), "\(r.snapshot())")
            }
            for r in readers {
                let s = r.snapshot()
                #expect(s.isClean(minimum: 50), "\(s)")
                #expect(s.isReceiving(within: 2), "\(s)")
            }
            // Pulled once, whatever the number of readers.
            #expect(source.events("PLAY").count == 1, "\(source.lines)")
            #expect(source.connectedClients == 1, "\(source.lines)")
            for r in readers { r.stop() }
        }
    }

    @Test(arguments: engines)
    func readersKeepPlayingAcrossASourceRestartWithMonotonicTimestamps(_ engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), RTSPSourcePeer.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let source = try RTSPSourcePeer()
            let relay = try RTSPRelayUnderTest(engine, paths: [Self.pulled(source)])
            defer { relay.stop() }
            var readers: [RTSPReader] = []
            for n in ["ffmpeg-tcp", "gstreamer-udp", "ffmpeg-udp"] { if let r = try Self.reader(n, relay.url("cam")) { readers.append(r) } }
            guard readers.count == 3 else { return }
            for r in readers { #expect(r.waitForFrames(25, timeout: 20), "\(r.snapshot())") }
            source.crash()
            try source.start()
            for r in readers {
                #expect(r.waitForMoreFrames(50, timeout: 20), "after the restart: \(r.snapshot())")
                let s = r.snapshot()
                #expect(s.ptsMonotonic, "\(s)")
                #expect(s.running, "\(s)")
            }
            #expect(source.events("PLAY").count == 1, "the restarted source was pulled once: \(source.lines)")
            for r in readers { r.stop() }
        }
    }

    @Test(arguments: engines)
    func onDemandConnectsAtTheFirstReaderAndClosesAfterTheLastLeaves(_ engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), RTSPSourcePeer.canRun(), FFmpegRTSPReader.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let source = try RTSPSourcePeer()
            let relay = try RTSPRelayUnderTest(engine, paths: [Self.pulled(source)]) { $0.onDemandCloseMs = 500 }
            defer { relay.stop() }
            // Nothing to wait for: the absence of a connection, checked over a moment.
            usleep(500_000)
            #expect(source.connectedClients == 0, "no reader, no source connection: \(source.lines)")
            let first = try FFmpegRTSPReader.start(relay.url("cam"), transport: .tcp)
            #expect(source.waitForEvents("CLIENT-CONNECTED"), "\(source.lines)")
            #expect(first.waitForFrames(10, timeout: 15), "\(first.snapshot())")
            let second = try FFmpegRTSPReader.start(relay.url("cam"), transport: .udp)
            #expect(second.waitForFrames(10, timeout: 15), "\(second.snapshot())")
            first.stop()
            #expect(second.waitForMoreFrames(25, timeout: 10), "one reader left keeps the source: \(second.snapshot())")
            #expect(source.closedClients == 0, "\(source.lines)")
            second.stop()
            #expect(source.waitForEvents("CLIENT-CLOSED", count: 1, timeout: 5), "closed after the last left: \(source.lines)")
            #expect(source.connectedClients == 1, "\(source.lines)")
        }
    }

    @Test(arguments: engines)
    func aCameraPulledOverUDPReachesReaders(_ engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), RTSPSourcePeer.canRun(), FFmpegRTSPReader.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let source = try RTSPSourcePeer()
            let relay = try RTSPRelayUnderTest(engine, paths: [Self.pulled(source)]) { $0.sourceTransport = .udp }
            defer { relay.stop() }
            let reader = try FFmpegRTSPReader.start(relay.url("cam"), transport: .tcp)
            #expect(reader.waitForFrames(50, timeout: 20), "\(reader.snapshot()) \(source.lines)")
            #expect(reader.snapshot().isClean(minimum: 50), "\(reader.snapshot())")
            reader.stop()
        }
    }

    @Test(arguments: engines)
    func twoPathsPulledOverUDPFromOneOriginStayApart(_ engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), RTSPSourcePeer.canRun(), FFmpegRTSPReader.canRun() else { return }
        try expectNoFileDescriptorLeak {
            var o = RTSPSourceOptions()
            o.paths = ["/cam", "/cam2"]
            let source = try RTSPSourcePeer(o)
            let origin = try RTSPRelayUnderTest(engine, paths: [Self.pulled(source, name: "a", always: true),
                                                               Self.pulled(source, name: "b", always: true, url: source.url(path: "/cam2"))])
            defer { origin.stop() }
            // Both streams leave the origin from its one UDP pair: the edge must not mix them.
            let edge = try RTSPRelayUnderTest(engine, paths: [Self.pulled(source, name: "a", url: origin.url("a")),
                                                             Self.pulled(source, name: "b", url: origin.url("b"))]) { $0.sourceTransport = .udp }
            defer { edge.stop() }
            let readers = try ["a", "b"].map { try FFmpegRTSPReader.start(edge.url($0), transport: .tcp) }
            for r in readers {
                #expect(r.waitForFrames(50, timeout: 20), "\(r.snapshot())")
                #expect(r.snapshot().isClean(minimum: 50), "\(r.snapshot())")
                r.stop()
            }
        }
    }

    @Test(arguments: engines)
    func anAlwaysPathConnectsWithoutReaders(_ engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), RTSPSourcePeer.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let source = try RTSPSourcePeer()
            let relay = try RTSPRelayUnderTest(engine, paths: [Self.pulled(source, always: true)])
            defer { relay.stop() }
            #expect(source.waitForEvents("PLAY"), "\(source.lines)")
        }
    }

    @Test(arguments: engines)
    func anEdgeRelayPullingFromAnOriginRelayServesAReader(_ engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), RTSPSourcePeer.canRun(), GStreamerRTSPReader.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let source = try RTSPSourcePeer()
            let origin = try RTSPRelayUnderTest(engine, paths: [Self.pulled(source)])
            defer { origin.stop() }
            let edge = try RTSPRelayUnderTest(engine, paths: [Self.pulled(source, name: "edge/cam", url: origin.url("cam"))])
            defer { edge.stop() }
            let reader = try GStreamerRTSPReader.start(edge.url("edge/cam"), transport: .tcp)
            #expect(reader.waitForFrames(50, timeout: 20), "\(reader.snapshot())")
            #expect(reader.snapshot().isClean(minimum: 50), "\(reader.snapshot())")
            reader.stop()
        }
    }

    @Test(arguments: [(EngineChoice.uring, RTSPMediaTransport.tcp), (.uring, .udp), (.epoll, .tcp), (.epoll, .udp)])
    func aStreamPublishedByFFmpegReachesReaders(_ engine: EngineChoice, _ transport: RTSPMediaTransport) throws {
        guard TestEnvironment.canRun(engine), FFmpegRTSPPublisher.canRun(), FFmpegRTSPReader.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let relay = try RTSPRelayUnderTest(engine, paths: [RTSPPathSpec(name: "live", source: .publish)])
            defer { relay.stop() }
            let publisher = try FFmpegRTSPPublisher(url: relay.url("live"), transport: transport)
            #expect(publisher.waitForFramesSent(10, timeout: 15), "\(publisher.stderr)")
            var readers: [RTSPReader] = []
            for n in ["ffmpeg-tcp", "gstreamer-udp"] { if let r = try Self.reader(n, relay.url("live")) { readers.append(r) } }
            for r in readers {
                #expect(r.waitForFrames(50, timeout: 20), "\(r.snapshot())")
                #expect(r.snapshot().isClean(minimum: 50), "\(r.snapshot())")
                r.stop()
            }
            _ = publisher.stop()
        }
    }

    @Test(arguments: [RTSPSourceOptions.Auth.basic, .digest])
    func credentialsInThePathURLOpenAProtectedCamera(_ auth: RTSPSourceOptions.Auth) throws {
        guard RTSPSourcePeer.canRun(), FFmpegRTSPReader.canRun() else { return }
        try expectNoFileDescriptorLeak {
            var o = RTSPSourceOptions()
            o.user = "viewer"
            o.password = "P@ss#word"
            o.auth = auth
            let source = try RTSPSourcePeer(o)
            // The password percent-encoded in the URL, decoded before it is used.
            let url = "rtsp://viewer:P%40ss%23word@127.0.0.1:\(source.port)/cam"
            let relay = try RTSPRelayUnderTest(.auto, paths: [Self.pulled(source, url: url)])
            defer { relay.stop() }
            let reader = try FFmpegRTSPReader.start(relay.url("cam"), transport: .tcp)
            #expect(reader.waitForFrames(25, timeout: 20), "\(reader.snapshot()) \(source.lines)")
            reader.stop()
        }
    }
}
