import Foundation
import Glibc
import Testing
@testable import UringRelay

/// The RTSP camera (Tests/peers/rtsp_source.py, GStreamer's RTSP server) on a loopback port,
/// for the relay (or a reader, in the self-tests) to pull from. Its stdout events
/// (CLIENT-CONNECTED, PLAY, CLIENT-CLOSED, MEDIA-UNPREPARED, RECORD-FRAMES, ...: see the script)
/// are what tests wait on, so "the relay connected to the source" and "the relay let go of
/// it" are observed where they happen, not guessed with a timer.
///
/// `crash()` and `start()` (or `restart()`) kill it with SIGKILL and bring it back on the same
/// port, as a camera that reboots. Event lines belong to the current run only.
final class RTSPSourcePeer {
    let options: RTSPSourceOptions
    /// Fixed for the peer's life, across restarts.
    private(set) var port: UInt16 = 0
    private let readyTimeout: Double
    private var process: PeerProcess?

    static let elements = ["videotestsrc", "x264enc", "rtph264pay", "rtph264depay", "avdec_h264", "fakesink"]

    /// /usr/bin/python3 with python3-gi, the RTSP server typelib and the GStreamer elements
    /// the script launches are here. If not, the caller skips its test (returns early);
    /// under URING_RELAY_REQUIRE_PEERS=1 a failure is recorded too.
    static func canRun(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        TestEnvironment.gstreamer(elements: elements, typelibs: ["GstRtsp", "GstRtspServer"],
                                  sourceLocation: sourceLocation) != nil
    }

    /// Starts the server (on `port`, or a free one when 0) and returns once it listens.
    init(_ options: RTSPSourceOptions = RTSPSourceOptions(), port: UInt16 = 0, readyTimeout: Double = 15) throws {
        self.options = options
        self.port = port
        self.readyTimeout = readyTimeout
        try start()
    }

    deinit { process?.stop() }

    var address: SocketAddress { .ipv4Loopback(port: port) }

    /// rtsp://127.0.0.1:<port><path>, with `user:password@` when given.
    func url(path: String? = nil, user: String? = nil, password: String? = nil) -> String {
        let credentials = user.map { "\(percentEncoded($0)):\(percentEncoded(password ?? ""))@" } ?? ""
        return "rtsp://\(credentials)127.0.0.1:\(port)\(path ?? options.paths[0])"
    }

    /// `url(path:)` with the credentials the source was started with.
    func authorizedURL(path: String? = nil) -> String {
        url(path: path, user: options.user, password: options.password)
    }

    // MARK: Events

    /// Every stdout line of the current run.
    var lines: [String] { process?.stdoutLines ?? [] }

    /// The event lines `kind ...` of the current run (kind: CLIENT-CONNECTED, PLAY, ...).
    func events(_ kind: String) -> [String] { lines.filter { $0.hasPrefix(kind + " ") } }

    /// The first line containing `text`, waiting up to `timeout` (nil: none came, or the
    /// source exited).
    func waitForLine(containing text: String, timeout: Double = 10) -> String? {
        process?.waitForLine(timeout: timeout) { $0.contains(text) }
    }

    /// Waits until the current run printed `count` events `kind`; returns whether it did.
    @discardableResult
    func waitForEvents(_ kind: String, count: Int = 1, timeout: Double = 10) -> Bool {
        process?.waitForLines(timeout: timeout) { $0.count(where: { $0.hasPrefix(kind + " ") }) >= count } ?? false
    }

    /// RTSP connections accepted and closed so far in this run.
    var connectedClients: Int { events("CLIENT-CONNECTED").count }
    var closedClients: Int { events("CLIENT-CLOSED").count }
    /// Connections open now, as the server counts them.
    var openClients: Int { connectedClients - closedClients }

    /// Frames the record mount decoded so far (as of its last RECORD-FRAMES line).
    var recordedFrames: Int { events("RECORD-FRAMES").compactMap { Int($0.split(separator: " ").last ?? "") }.max() ?? 0 }

    /// Waits until the record mount decoded at least `count` frames.
    @discardableResult
    func waitForRecordedFrames(_ count: Int, timeout: Double = 10) -> Bool {
        process?.waitForLines(timeout: timeout) { lines in
            lines.contains { $0.hasPrefix("RECORD-FRAMES ") && (Int($0.split(separator: " ").last ?? "") ?? 0) >= count }
        } ?? false
    }

    var isRunning: Bool { process?.isRunning ?? false }
    /// What the current run wrote on stderr (GStreamer warnings, a traceback).
    var stderr: String { process?.stderrText ?? "" }

    // MARK: Lifecycle

    /// Starts the server if it is not running (after `crash()`), on the same port once it
    /// has one, and waits for READY.
    func start() throws {
        guard process == nil else { return }
        let arguments = [TestEnvironment.peerScript("rtsp_source.py"), "--port", String(port), "--watch-stdin"]
            + options.arguments
        let child = try PeerProcess(TestEnvironment.systemPython, arguments, keepStdinOpen: true)
        guard let ready = child.waitForLine(timeout: readyTimeout, where: { $0.hasPrefix("READY ") }),
              let bound = UInt16(ready.dropFirst("READY ".count)), bound != 0 else {
            let why = child.isRunning ? "no READY line within \(readyTimeout) s" : "exited with \(child.exitStatus!)"
            child.stop()
            throw PeerFailure("rtsp_source.py \(arguments.dropFirst().joined(separator: " ")): \(why); stderr: \(child.stderrText)")
        }
        port = bound
        process = child
    }

    /// Kills the server with SIGKILL (no TEARDOWN, no BYE: connections just reset or end)
    /// and reaps it. `start()` brings it back on the same port.
    func crash() {
        process?.stop(SIGKILL)
        process = nil
    }

    /// `crash()` then `start()`: the source reboots on its port.
    func restart() throws {
        crash()
        try start()
    }

    /// Stops it (SIGTERM) and returns its exit status: 0 when it shut down cleanly.
    @discardableResult
    func stop() -> Int32 {
        guard let process else { return 0 }
        self.process = nil
        let (status, signaled) = process.stop()
        return signaled ? 128 + status : status
    }

    private func percentEncoded(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed.subtracting(CharacterSet(charactersIn: ":@"))) ?? s
    }
}
