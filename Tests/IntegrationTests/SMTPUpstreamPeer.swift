import Foundation
import Testing
@testable import UringRelay

/// The aiosmtpd upstream (Tests/peers/smtp_upstream.py) on a free loopback port, for the
/// relay (or a client peer, in the self-tests) to deliver to. It records every message
/// that reaches its end of data; tests read them with `messages()` or wait for them with
/// `waitForMessages`, which waits on the peer's own `MESSAGE` event lines, not a timer.
final class SMTPUpstreamPeer {
    let options: SMTPUpstreamOptions
    let port: UInt16
    let address: SocketAddress
    private let directory: TemporaryDirectory
    private let process: PeerProcess
    private let recordPath: String

    /// /usr/bin/python3 with aiosmtpd is here. If not, the caller skips its test (returns
    /// early); under URING_RELAY_REQUIRE_PEERS=1 a failure is recorded too.
    static func canRun(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        TestEnvironment.python(with: "aiosmtpd", sourceLocation: sourceLocation) != nil
    }

    /// Starts the peer and returns once it listens (its READY line).
    init(_ options: SMTPUpstreamOptions = SMTPUpstreamOptions(), readyTimeout: Double = 15) throws {
        let directory = try TemporaryDirectory("smtp-upstream")
        let recordPath = directory.file("messages.jsonl")
        let script = TestEnvironment.peerScript("smtp_upstream.py")
        let process = try PeerProcess(TestEnvironment.systemPython,
                                      [script, "--record", recordPath, "--watch-stdin"] + options.arguments,
                                      keepStdinOpen: true)
        guard let ready = process.waitForLine(timeout: readyTimeout, where: { $0.hasPrefix("READY ") }),
              let port = UInt16(ready.dropFirst("READY ".count)) else {
            let why = process.isRunning ? "no READY line within \(readyTimeout) s" : "exited with \(process.exitStatus!)"
            process.stop()
            throw PeerFailure("smtp_upstream.py \(options.arguments.joined(separator: " ")): \(why); stderr: \(process.stderrText)")
        }
        self.options = options
        self.directory = directory
        self.process = process
        self.recordPath = recordPath
        self.port = port
        address = options.host.contains(":") ? .ipv6Loopback(port: port) : .ipv4Loopback(port: port)
    }

    deinit { process.stop() }

    /// Every message recorded so far (accepted or refused at the end of data), in order.
    func messages() throws -> [SMTPUpstreamRecord] {
        guard FileManager.default.fileExists(atPath: recordPath) else { return [] }
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: recordPath)))
        // Only complete lines: the peer writes each in one write(2), but be safe.
        let complete = bytes.lastIndex(of: 0x0A).map { bytes[...$0] } ?? []
        let decoder = JSONDecoder()
        return try complete.split(separator: 0x0A).map { try decoder.decode(SMTPUpstreamRecord.self, from: Data($0)) }
    }

    /// The messages that got a 2xx at their end of data.
    func deliveredMessages() throws -> [SMTPUpstreamRecord] { try messages().filter(\.accepted) }

    /// Waits until `count` messages reached their end of data (whatever the reply) and
    /// returns all messages; throws if they do not arrive within `timeout`.
    @discardableResult
    func waitForMessages(count: Int, timeout: Double = 10) throws -> [SMTPUpstreamRecord] {
        guard waitForEvents("MESSAGE", count: count, timeout: timeout) else {
            throw PeerFailure("upstream: \(eventCount("MESSAGE")) of \(count) messages within \(timeout) s"
                + (process.isRunning ? "" : "; it exited with \(process.exitStatus!)") + "; stderr: \(process.stderrText)")
        }
        return try messages()
    }

    /// Connections accepted so far.
    var connectionCount: Int { eventCount("CONNECT") }

    /// Connections cut by `disconnectMidDataAfter` so far.
    var disconnectCount: Int { eventCount("DISCONNECT") }

    /// Waits for `count` events `kind` (CONNECT, MESSAGE, DISCONNECT: see the script).
    @discardableResult
    func waitForEvents(_ kind: String, count: Int, timeout: Double = 10) -> Bool {
        process.waitForLines(timeout: timeout) { lines in lines.count(where: { $0.hasPrefix(kind + " ") }) >= count }
    }

    /// What the peer wrote on stderr (aiosmtpd's warnings, a traceback).
    var stderr: String { process.stderrText }

    /// Stops it (SIGTERM) and returns its exit status: 0 when it shut down cleanly.
    @discardableResult
    func stop() -> Int32 {
        let (status, signaled) = process.stop()
        return signaled ? 128 + status : status
    }

    private func eventCount(_ kind: String) -> Int { process.stdoutLines.count(where: { $0.hasPrefix(kind + " ") }) }
}
