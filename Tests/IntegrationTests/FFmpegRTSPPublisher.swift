import Foundation
import Glibc
import Testing

/// ffmpeg publishing a live H.264 test pattern (320x240, 25 fps, a keyframe a second) to an
/// rtsp:// URL with ANNOUNCE and RECORD, as a camera that pushes does. Its progress report on
/// stdout (frame=N every half second) tells how far it got; `stop()` (also run by deinit)
/// kills and reaps it.
final class FFmpegRTSPPublisher {
    static let path = FFmpegRTSPReader.path

    /// ffmpeg is installed. If not, the caller skips its test (returns early); under
    /// URING_RELAY_REQUIRE_PEERS=1 a failure is recorded too.
    static func canRun(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        TestEnvironment.peer(path, sourceLocation: sourceLocation) != nil
    }

    let url: String
    let transport: RTSPMediaTransport
    private let process: PeerProcess

    /// Starts publishing (`-re`: at the real frame rate, as a live source).
    init(url: String, transport: RTSPMediaTransport = .tcp, size: String = "320x240", rate: Int = 25) throws {
        self.url = url
        self.transport = transport
        process = try PeerProcess(Self.path, [
            "-nostdin", "-hide_banner", "-loglevel", "warning",
            "-re", "-f", "lavfi", "-i", "testsrc=size=\(size):rate=\(rate)",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", String(rate),
            "-pix_fmt", "yuv420p",
            "-progress", "pipe:1", "-stats_period", "0.5",
            "-f", "rtsp", "-rtsp_transport", transport.rawValue, url,
        ])
    }

    deinit { process.stop() }

    /// Frames encoded and sent so far (as of the last progress report).
    var framesSent: Int {
        process.stdoutLines.last(where: { $0.hasPrefix("frame=") }).flatMap { Int($0.dropFirst("frame=".count)) } ?? 0
    }

    /// Waits until `count` frames were sent (true), or ffmpeg exits (a refused ANNOUNCE, 401)
    /// or `timeout` passes (false).
    @discardableResult
    func waitForFramesSent(_ count: Int, timeout: Double = 10) -> Bool {
        process.waitForLines(timeout: timeout) { lines in
            (lines.last(where: { $0.hasPrefix("frame=") }).flatMap { Int($0.dropFirst("frame=".count)) } ?? 0) >= count
        }
    }

    var isRunning: Bool { process.isRunning }
    var exitStatus: (status: Int32, signaled: Bool)? { process.exitStatus }
    /// ffmpeg's warnings and errors.
    var stderr: String { process.stderrText }

    /// Waits for ffmpeg to exit by itself (the server refused or went away).
    @discardableResult
    func waitForExit(timeout: Double = 10) -> Bool { process.waitForExit(timeout: timeout) }

    /// Stops it (SIGTERM: ffmpeg sends TEARDOWN) and reaps it; returns its exit status.
    @discardableResult
    func stop() -> Int32 {
        let (status, signaled) = process.stop(SIGTERM, grace: 3)
        return signaled ? 128 + status : status
    }
}
