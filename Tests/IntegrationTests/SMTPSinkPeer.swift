import Foundation
import Glibc
import Testing
@testable import UringRelay

/// Postfix's smtp-sink on a free loopback port: a fast SMTP sink that counts sessions and
/// messages (-c) and, with `capture`, keeps every message (-D) for `messages()`.
///
/// smtp-sink cannot report a port it picked, so it is started on port 0 and its listening
/// socket is found in /proc (see `ListeningPortProbe`). Run as root it insists on `-u USER`
/// to drop privileges to; "nobody" is used, and the capture directory is made writable
/// for it.
final class SMTPSinkPeer {
    static let path = "/usr/sbin/smtp-sink"
    /// Prepended to every captured message in the shared dump (-S) so they can be told apart.
    private static let separator = Array("\u{1}SMTP-SINK-MESSAGE\u{1}\n".utf8)

    let options: SMTPSinkOptions
    let port: UInt16
    let address: SocketAddress
    private let directory: TemporaryDirectory
    private let process: PeerProcess
    private let dumpPath: String

    /// smtp-sink is installed (Debian's postfix package). If not, the caller skips its test;
    /// under URING_RELAY_REQUIRE_PEERS=1 a failure is recorded too.
    static func canRun(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        TestEnvironment.peer(path, sourceLocation: sourceLocation) != nil
    }

    /// Starts smtp-sink and returns once its socket listens.
    init(_ options: SMTPSinkOptions = SMTPSinkOptions(), readyTimeout: Double = 10) throws {
        let directory = try TemporaryDirectory("smtp-sink")
        let dumpPath = directory.file("messages.dump")
        var arguments = options.arguments
        if geteuid() == 0 {
            // "fatal: -u option is required if running as root"
            arguments += ["-u", "nobody"]
            directory.makeWorldWritable()
        }
        if options.capture {
            // -D appends each message to one file once its "." arrived (a transaction in
            // progress is kept in an unlinked file), before the counter line for it is
            // printed: after "mesg=N" N whole messages are there. (-d would leave one file
            // per transaction, half-written ones included; smtp-sink 3.7 refuses both.)
            arguments += ["-D", dumpPath, "-S", "\\001SMTP-SINK-MESSAGE\\001\\n"]
        }
        let listen = options.host.contains(":") ? "[\(options.host)]:0" : "\(options.host):0"
        arguments += [listen, "256"]
        let process = try PeerProcess(Self.path, arguments)
        var port: UInt16?
        pollUntil(readyTimeout) {
            port = ListeningPortProbe.port(of: process.pid)
            return port != nil || !process.isRunning
        }
        guard let port else {
            let why = process.isRunning ? "no listening socket within \(readyTimeout) s" : "exited with \(process.exitStatus!)"
            process.stop()
            throw PeerFailure("smtp-sink \(arguments.joined(separator: " ")): \(why); stderr: \(process.stderrText)")
        }
        self.options = options
        self.directory = directory
        self.process = process
        self.dumpPath = dumpPath
        self.port = port
        address = options.host.contains(":") ? .ipv6Loopback(port: port) : .ipv4Loopback(port: port)
    }

    deinit { process.stop() }

    /// The latest counters (all zero before the first update).
    var counters: SMTPSinkCounters {
        process.stdoutLines.last.flatMap(SMTPSinkCounters.init(line:)) ?? SMTPSinkCounters()
    }

    /// Waits until smtp-sink counted `count` messages (their "." arrived); throws if not
    /// within `timeout`.
    @discardableResult
    func waitForMessages(count: Int, timeout: Double = 10) throws -> SMTPSinkCounters {
        try waitForCounters(timeout: timeout, "\(count) messages") { $0.messages >= count }
    }

    /// Waits until `count` sessions ended.
    @discardableResult
    func waitForSessions(count: Int, timeout: Double = 10) throws -> SMTPSinkCounters {
        try waitForCounters(timeout: timeout, "\(count) sessions") { $0.sessions >= count }
    }

    /// The captured messages, in the order they finished (needs `capture`).
    func messages() throws -> [SMTPSinkMessage] {
        precondition(options.capture, "SMTPSinkPeer.messages() needs options.capture")
        guard FileManager.default.fileExists(atPath: dumpPath) else { return [] }
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dumpPath)))
        var out: [SMTPSinkMessage] = []
        for piece in Self.split(bytes, at: Self.separator) where !piece.isEmpty {
            guard let m = SMTPSinkMessage(dump: piece) else {
                throw PeerFailure("smtp-sink dump not understood: \(String(decoding: piece.prefix(200), as: UTF8.self))")
            }
            out.append(m)
        }
        return out
    }

    var stderr: String { process.stderrText }

    /// Stops it: SIGTERM, which smtp-sink does not catch, so it ends by that signal.
    func stop() { process.stop() }

    private func waitForCounters(timeout: Double, _ what: String,
                                 _ done: (SMTPSinkCounters) -> Bool) throws -> SMTPSinkCounters {
        let ok = process.waitForLines(timeout: timeout) { lines in
            lines.last.flatMap(SMTPSinkCounters.init(line:)).map(done) ?? false
        }
        guard ok else {
            throw PeerFailure("smtp-sink: not \(what) within \(timeout) s (counters \(counters))"
                + (process.isRunning ? "" : "; it exited with \(process.exitStatus!)") + "; stderr: \(process.stderrText)")
        }
        return counters
    }

    private static func split(_ bytes: [UInt8], at separator: [UInt8]) -> [ArraySlice<UInt8>] {
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        while i + separator.count <= bytes.count {
            if bytes[i] == separator[0] && bytes[i..<(i + separator.count)].elementsEqual(separator) {
                pieces.append(bytes[start..<i])
                i += separator.count
                start = i
            } else {
                i += 1
            }
        }
        pieces.append(bytes[start...])
        return pieces
    }
}
