import Foundation
import Testing

/// ffmpeg as an RTSP reader: it decodes the stream and writes one framecrc line per decoded
/// frame to stdout, flushed at once, with the demuxer's own timestamps (-copyts, 90 kHz time
/// base, no frame dropped or duplicated by ffmpeg's frame-rate logic), so a relay that
/// reorders or rewrites timestamps shows. Decode errors are the H.264 decoder's stderr lines.
enum FFmpegRTSPReader {
    static let path = "/usr/bin/ffmpeg"

    /// ffmpeg is installed. If not, the caller skips its test (returns early); under
    /// URING_RELAY_REQUIRE_PEERS=1 a failure is recorded too.
    static func canRun(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        TestEnvironment.peer(path, sourceLocation: sourceLocation) != nil
    }

    /// Starts reading `url` (credentials may be in it) over `transport`.
    static func start(_ url: String, transport: RTSPMediaTransport = .tcp) throws -> RTSPReader {
        try RTSPReader(program(url, transport: transport), url: url, transport: transport)
    }

    static func program(_ url: String, transport: RTSPMediaTransport) -> RTSPReaderProgram {
        RTSPReaderProgram(
            name: "ffmpeg-\(transport)", executable: path,
            arguments: [
                // warning, not error: packet loss ("RTP: missed N packets") and
                // "Non-monotonous DTS" are warnings, and worth seeing in a failure.
                "-nostdin", "-hide_banner", "-loglevel", "warning",
                // Without -copyts ffmpeg shifts the start and the first two frames both get 0.
                "-copyts", "-rtsp_transport", transport.rawValue, "-i", url, "-an",
                "-fps_mode", "passthrough", "-enc_time_base", "-1",
                // framecrc writes through a 32 KiB buffer: without this, lines come in bursts.
                "-flush_packets", "1", "-f", "framecrc", "-",
            ],
            isFrameLine: isFrameLine, timestamps: timestamps, complaints: complaints)
    }

    /// "0,   dts,   pts, duration, size, 0xcrc": a frame of stream 0 (the video).
    @Sendable static func isFrameLine(_ line: String) -> Bool { line.hasPrefix("0,") }

    @Sendable static func timestamps(_ lines: [String]) -> [Double?] {
        var timeBase = 1.0 / 90_000
        var out: [Double?] = []
        for line in lines {
            if line.hasPrefix("#tb 0: ") {
                // "#tb 0: 1/90000"
                let parts = line.dropFirst("#tb 0: ".count).split(separator: "/").compactMap { Double($0) }
                if parts.count == 2, parts[1] != 0 { timeBase = parts[0] / parts[1] }
            } else if isFrameLine(line) {
                let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                out.append(fields.count > 2 ? Double(fields[2]).map { $0 * timeBase } : nil)
            }
        }
        return out
    }

    /// What libavcodec's H.264 decoder says about a damaged stream.
    static let decodeErrorMarkers = ["[h264 @", "error while decoding", "non-existing PPS", "no frame!",
                                     "concealing", "decode_slice_header error", "Invalid NAL unit",
                                     "missing picture", "corrupt"]

    @Sendable static func complaints(_ stdout: [String], _ stderr: [String]) -> (decodeErrors: [String], messages: [String]) {
        let decode = stderr.filter { line in decodeErrorMarkers.contains { line.contains($0) } }
        return (decode, stderr.filter { line in !decodeErrorMarkers.contains { line.contains($0) } })
    }
}
