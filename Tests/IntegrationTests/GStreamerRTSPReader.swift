import Foundation
import Testing

/// GStreamer as an RTSP reader (Tests/peers/rtsp_reader_gst.py: rtspsrc ! rtph264depay !
/// avdec_h264 ! fakesink): a second, independent RTSP client implementation, so a relay
/// is not only right for ffmpeg. One FRAME line per decoded frame; decode errors are libav's
/// own complaints (DECODE-ERROR lines), other trouble the bus's ERROR and WARNING lines.
enum GStreamerRTSPReader {
    static let elements = ["rtspsrc", "rtph264depay", "avdec_h264", "fakesink"]

    /// /usr/bin/python3 with python3-gi and the elements above is here. If not, the caller
    /// skips its test (returns early); under URING_RELAY_REQUIRE_PEERS=1 a failure is recorded too.
    static func canRun(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        TestEnvironment.gstreamer(elements: elements, sourceLocation: sourceLocation) != nil
    }

    /// Starts reading `url` (credentials may be in it) over `transport` only (no fallback
    /// from UDP to TCP).
    static func start(_ url: String, transport: RTSPMediaTransport = .tcp) throws -> RTSPReader {
        try RTSPReader(program(url, transport: transport), url: url, transport: transport)
    }

    static func program(_ url: String, transport: RTSPMediaTransport) -> RTSPReaderProgram {
        RTSPReaderProgram(
            name: "gstreamer-\(transport)", executable: TestEnvironment.systemPython,
            arguments: [TestEnvironment.peerScript("rtsp_reader_gst.py"), url,
                        "--protocols", transport.rawValue, "--watch-stdin"],
            keepStdinOpen: true, isFrameLine: isFrameLine, timestamps: timestamps, complaints: complaints)
    }

    @Sendable static func isFrameLine(_ line: String) -> Bool { line.hasPrefix("FRAME ") }

    /// "FRAME <nanoseconds>" or "FRAME none".
    @Sendable static func timestamps(_ lines: [String]) -> [Double?] {
        lines.filter(isFrameLine).map { Double($0.dropFirst("FRAME ".count)).map { $0 / 1e9 } }
    }

    @Sendable static func complaints(_ stdout: [String], _ stderr: [String]) -> (decodeErrors: [String], messages: [String]) {
        (stdout.filter { $0.hasPrefix("DECODE-ERROR ") },
         stdout.filter { $0.hasPrefix("ERROR ") || $0.hasPrefix("WARNING ") } + stderr)
    }
}
