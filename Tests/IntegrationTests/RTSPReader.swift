import Foundation
import Glibc

/// A real RTSP client reading and decoding an rtsp:// URL (ffmpeg or GStreamer, see
/// `FFmpegRTSPReader` and `GStreamerRTSPReader`), running until stopped. It reports what a
/// viewer would see: how many frames decoded, decode errors, whether timestamps rose, how
/// long the first frame took and whether frames still come (`snapshot()`). Waits are on the
/// reader's own per-frame output lines. `stop()` (also run by deinit) kills and reaps it.
final class RTSPReader {
    let url: String
    let transport: RTSPMediaTransport
    let program: RTSPReaderProgram
    private let process: PeerProcess

    init(_ program: RTSPReaderProgram, url: String, transport: RTSPMediaTransport) throws {
        self.url = url
        self.transport = transport
        self.program = program
        process = try PeerProcess(program.executable, program.arguments, keepStdinOpen: program.keepStdinOpen)
    }

    deinit { process.stop() }

    /// Frames decoded so far.
    var frames: Int { process.stdoutLines.count(where: program.isFrameLine) }

    var isRunning: Bool { process.isRunning }

    /// Waits until `count` frames in all were decoded (true), or the reader exits or
    /// `timeout` passes (false).
    @discardableResult
    func waitForFrames(_ count: Int, timeout: Double = 10) -> Bool {
        let isFrame = program.isFrameLine
        return process.waitForLines(timeout: timeout) { $0.count(where: isFrame) >= count }
    }

    /// Waits for `count` frames more than were decoded when called: that it is still
    /// receiving (after a relay restart, a source restart, another reader leaving, ...).
    @discardableResult
    func waitForMoreFrames(_ count: Int, timeout: Double = 10) -> Bool {
        waitForFrames(frames + count, timeout: timeout)
    }

    /// Waits for the reader to exit by itself (the stream ended or failed).
    @discardableResult
    func waitForExit(timeout: Double = 10) -> Bool { process.waitForExit(timeout: timeout) }

    func snapshot() -> RTSPReaderSnapshot {
        let at = now()
        let timed = process.timedStdoutLines
        let stdout = timed.map(\.line)
        let frameTimes = timed.filter { program.isFrameLine($0.line) }.map(\.at)
        let pts = program.timestamps(stdout)
        var monotonic = true
        var regression: String?
        var previous: Double?
        for (i, p) in pts.enumerated() {
            guard let p else { monotonic = false; continue }
            // Never backwards. Equal is allowed: rtspsrc's jitter buffer stamps a burst (the
            // relay's keyframe cache sent to a new reader at once) by arrival, and two frames
            // of it can share a timestamp; they still decode and play in order.
            if let previous, p < previous {
                monotonic = false
                if regression == nil { regression = "#\(i): \(previous) -> \(p)" }
            }
            previous = p
        }
        let stderrLines = PeerProcess.lines(of: Array(process.stderrText.utf8))
        let (decodeErrors, messages) = program.complaints(stdout, stderrLines)
        let exit = process.exitStatus
        return RTSPReaderSnapshot(
            reader: program.name, url: url, frames: frameTimes.count, decodeErrors: decodeErrors, messages: messages,
            firstPts: pts.lazy.compactMap { $0 }.first, lastPts: pts.last(where: { $0 != nil }) ?? nil,
            framesWithoutPts: pts.count(where: { $0 == nil }), ptsMonotonic: monotonic, firstPtsRegression: regression,
            timeToFirstFrame: frameTimes.first.map { $0 - process.startedAt },
            lastFrameAge: frameTimes.last.map { at - $0 }, running: exit == nil,
            exitStatus: exit.map { $0.signaled ? 128 + $0.status : $0.status })
    }

    /// Ends the reader and returns what it had decoded. SIGTERM lets it say TEARDOWN;
    /// SIGKILL is a viewer that vanishes (its connection just closes).
    @discardableResult
    func stop(_ sig: Int32 = SIGTERM) -> RTSPReaderSnapshot {
        process.stop(sig, grace: 3)
        return snapshot()
    }
}
