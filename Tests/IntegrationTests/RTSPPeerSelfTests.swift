import Foundation
import Glibc
import Testing
@testable import UringRelay

/// The RTSP peer harness tested on its own: readers (ffmpeg, GStreamer) and the ffmpeg
/// publisher pointed straight at the GStreamer RTSP source, no relay in between. If these
/// pass, a relay test that fails through the same peers is about the relay.
@Suite(.serialized) struct RTSPPeerSelfTests {
    static let readers = ["ffmpeg-tcp", "ffmpeg-udp", "gstreamer-tcp", "gstreamer-udp"]

    /// `name` ("ffmpeg-udp", ...) started on `url`, or nil when its program is missing.
    static func startReader(_ name: String, _ url: String) throws -> RTSPReader? {
        let transport = RTSPMediaTransport(rawValue: String(name.split(separator: "-")[1]))!
        if name.hasPrefix("ffmpeg") {
            return FFmpegRTSPReader.canRun() ? try FFmpegRTSPReader.start(url, transport: transport) : nil
        }
        return GStreamerRTSPReader.canRun() ? try GStreamerRTSPReader.start(url, transport: transport) : nil
    }

    @Test(arguments: readers)
    func readerDecodesTheSourceCleanly(_ name: String) throws {
        guard RTSPSourcePeer.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let source = try RTSPSourcePeer()
            guard let reader = try Self.startReader(name, source.url()) else { return }
            let decoded = reader.waitForFrames(50, timeout: 12)
            let s = reader.snapshot()
            #expect(decoded, "\(s)")
            #expect(s.isClean(minimum: 50), "\(s)")
            #expect(s.isReceiving(), "\(s)")
            // The camera starts its pipeline on the first DESCRIBE and sends a keyframe first.
            #expect((s.timeToFirstFrame ?? .infinity) < 5, "\(s)")
            // 25 fps: 50 frames span about 2 s of timestamps, whatever the clock they started on.
            if let first = s.firstPts, let last = s.lastPts {
                let span = (last - first) / Double(s.frames - 1)
                #expect(abs(span - 0.04) < 0.005, "mean frame interval \(span) s: \(s)")
            }
            #expect(source.events("PLAY").count == 1, "\(source.lines)")
            reader.stop()
            #expect(source.waitForEvents("CLIENT-CLOSED"), "\(source.lines)")
            #expect(source.stop() == 0, "SIGTERM is a clean exit: \(source.stderr)")
        }
    }

    @Test(arguments: [RTSPSourceOptions.Auth.basic, .digest])
    func sourceDemandsCredentials(_ auth: RTSPSourceOptions.Auth) throws {
        guard RTSPSourcePeer.canRun(), FFmpegRTSPReader.canRun(), GStreamerRTSPReader.canRun() else { return }
        try expectNoFileDescriptorLeak {
            var o = RTSPSourceOptions()
            o.user = "viewer"
            o.password = "s3cret pass"
            o.auth = auth
            let source = try RTSPSourcePeer(o)
            for start in [FFmpegRTSPReader.start, GStreamerRTSPReader.start] {
                let good = try start(source.authorizedURL(), .tcp)
                #expect(good.waitForFrames(10, timeout: 10), "\(good.snapshot())")
                good.stop()
                for url in [source.url(), source.url(user: "viewer", password: "wrong")] {
                    let bad = try start(url, .tcp)
                    #expect(bad.waitForExit(timeout: 10), "\(bad.snapshot())")
                    let s = bad.stop()
                    #expect(s.frames == 0 && s.exitStatus != 0, "\(s)")
                    #expect(s.messages.contains { $0.contains("401") }, "\(s)")
                }
            }
            // Refused requests never reach DESCRIBE: two played, four refused.
            #expect(source.events("DESCRIBE").count == 2, "\(source.lines)")
            #expect(source.waitForEvents("CLIENT-CLOSED", count: 6), "\(source.lines)")
        }
    }

    @Test(arguments: RTSPMediaTransport.allCases)
    func publisherRecordsToTheSource(_ transport: RTSPMediaTransport) throws {
        guard RTSPSourcePeer.canRun(), FFmpegRTSPPublisher.canRun() else { return }
        try expectNoFileDescriptorLeak {
            var o = RTSPSourceOptions()
            o.recordPath = "/pub"
            let source = try RTSPSourcePeer(o)
            let publisher = try FFmpegRTSPPublisher(url: source.url(path: "/pub"), transport: transport)
            #expect(source.waitForRecordedFrames(50, timeout: 12), "\(source.lines) \(publisher.stderr)")
            #expect(publisher.waitForFramesSent(50, timeout: 5), "\(publisher.stderr)")
            #expect(source.events("RECORD").count == 1 && source.events("RECORD-ERROR").isEmpty, "\(source.lines)")
            #expect(publisher.isRunning, "\(publisher.stderr)")
            publisher.stop()
            #expect(source.waitForEvents("CLIENT-CLOSED"), "\(source.lines)")
        }
    }

    @Test func sourceRestartsOnTheSamePort() throws {
        guard RTSPSourcePeer.canRun(), FFmpegRTSPReader.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let source = try RTSPSourcePeer()
            let port = source.port
            let before = try FFmpegRTSPReader.start(source.url())
            #expect(before.waitForFrames(10), "\(before.snapshot())")
            source.crash()
            // The reader sees its connection end: it stops receiving and exits.
            #expect(before.waitForExit(timeout: 10), "\(before.snapshot())")
            try source.restart()
            #expect(source.port == port)
            let after = try FFmpegRTSPReader.start(source.url())
            #expect(after.waitForFrames(25), "\(after.snapshot())")
            #expect(after.snapshot().isClean(minimum: 25), "\(after.snapshot())")
            after.stop()
        }
    }

    @Test func everyMountPlaysItsOwnStream() throws {
        guard RTSPSourcePeer.canRun(), FFmpegRTSPReader.canRun() else { return }
        try expectNoFileDescriptorLeak {
            var o = RTSPSourceOptions()
            o.paths = ["/cam", "/cam2"]
            let source = try RTSPSourcePeer(o)
            let readers = try o.paths.map { try FFmpegRTSPReader.start(source.url(path: $0)) }
            for r in readers {
                #expect(r.waitForFrames(25), "\(r.snapshot())")
                #expect(r.stop().isClean(minimum: 25), "\(r.snapshot())")
            }
            #expect(Set(source.events("PLAY").map { $0.split(separator: " ").last! }) == ["/cam", "/cam2"], "\(source.lines)")
            #expect(source.events("MEDIA-PREPARED").count == 2, "\(source.lines)")
        }
    }

    /// The readers' output parsing on canned lines: what a damaged stream looks like, which no
    /// healthy source produces.
    @Test func readerOutputIsParsed() {
        let ffmpegOut = ["#tb 0: 1/90000", "#media_type 0: video", "0,  3600,  3600,  3600, 115200, 0x1",
                         "0,  7200,  7200,  3600, 115200, 0x2", "0,  7200,  7200,  3600, 115200, 0x3"]
        #expect(FFmpegRTSPReader.timestamps(ffmpegOut) == [0.04, 0.08, 0.08])
        #expect(ffmpegOut.count(where: FFmpegRTSPReader.isFrameLine) == 3)
        let ffmpegErr = ["[h264 @ 0x5581] concealing 140 DC, 140 AC, 140 MV errors in P frame",
                         "[h264 @ 0x5581] non-existing PPS 0 referenced",
                         "[rtsp @ 0x5580] method DESCRIBE failed: 401 Unauthorized"]
        let (decode, other) = FFmpegRTSPReader.complaints(ffmpegOut, ffmpegErr)
        #expect(decode == Array(ffmpegErr.prefix(2)) && other == [ffmpegErr[2]])

        let gstOut = ["FRAME 40000000", "DECODE-ERROR concealing 3 DC, 3 AC, 3 MV errors in P frame",
                      "FRAME none", "FRAME 120000000", "ERROR src: Unauthorized"]
        #expect(GStreamerRTSPReader.timestamps(gstOut) == [0.04, nil, 0.12])
        let (gstDecode, gstOther) = GStreamerRTSPReader.complaints(gstOut, [])
        #expect(gstDecode.count == 1 && gstOther == ["ERROR src: Unauthorized"])
    }

    @Test func connectionEventsFollowAReader() throws {
        guard RTSPSourcePeer.canRun(), FFmpegRTSPReader.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let source = try RTSPSourcePeer()
            #expect(source.openClients == 0)
            let polite = try FFmpegRTSPReader.start(source.url())
            let connected = try #require(source.waitForLine(containing: "CLIENT-CONNECTED 1 "), "\(source.lines)")
            #expect(connected.hasPrefix("CLIENT-CONNECTED 1 127.0.0.1:"))
            #expect(source.waitForEvents("PLAY") && source.events("MEDIA-PREPARED") == ["MEDIA-PREPARED /cam"])
            #expect(polite.waitForFrames(5), "\(polite.snapshot())")
            polite.stop()
            #expect(source.waitForLine(containing: "CLIENT-CLOSED 1") != nil, "\(source.lines)")
            #expect(source.waitForEvents("TEARDOWN") && source.waitForEvents("MEDIA-UNPREPARED"), "\(source.lines)")

            // A reader killed outright sends no TEARDOWN; its closed connection is the signal.
            let vanishing = try FFmpegRTSPReader.start(source.url(), transport: .udp)
            #expect(vanishing.waitForFrames(5), "\(vanishing.snapshot())")
            #expect(source.openClients == 1)
            vanishing.stop(SIGKILL)
            #expect(source.waitForLine(containing: "CLIENT-CLOSED 2") != nil, "\(source.lines)")
            #expect(source.openClients == 0)
            #expect(source.events("TEARDOWN").count == 1, "\(source.lines)")
        }
    }
}
