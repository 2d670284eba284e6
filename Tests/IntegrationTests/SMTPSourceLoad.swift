import Testing
@testable import UringRelay

/// A run of Postfix's smtp-source, a parallel SMTP load generator: `sessions` connections
/// at a time deliver `messages` messages in all. It speaks no PIPELINING and no BDAT.
///
/// What it sends: with `messageFile` (-F) the file's lines, each ended with CRLF and
/// dot-stuffed, then one more CRLF — the same bytes for every message
/// (`expectedBody(messageFile:)`). Otherwise From/To/Date/Message-Id headers (Message-Id
/// differs per message) and `size` bytes of payload (-l, `payload(length:)`) plus CRLF.
struct SMTPSourceLoad {
    static let path = "/usr/sbin/smtp-source"

    /// -s: sessions in parallel.
    var sessions = 1
    /// -m: messages in all, spread over the sessions.
    var messages = 1
    /// -d: keep a session open for its next message (smtp-source's default is one
    /// connection per message).
    var reuseConnections = true
    /// -l: payload bytes (nil: smtp-source's four "La de da" lines).
    var size: Int? = nil
    /// -F: the message to send instead of headers and payload; LF line ends (a CR before
    /// an LF is sent as part of the line: "\r\r\n").
    var messageFile: [UInt8]? = nil
    /// -f, -t: envelope sender and recipient.
    var from = "sender@client.test"
    var to = "rcpt@upstream.test"
    /// -r: recipients per message. smtp-source counts down: with -r 3 they are "3" + `to`,
    /// "2" + `to`, then `to` itself.
    var recipientsPerMessage = 1
    /// -M: the name for HELO (otherwise the machine's host name).
    var heloName = "client.test"
    /// -S: a Subject header (not with `messageFile`).
    var subject: String? = nil
    /// -A: go on after a refusal instead of exiting 1.
    var continueOnRejects = false
    var extraArguments: [String] = []

    /// smtp-source is installed (Debian's postfix package). If not, the caller skips its
    /// test; under URING_RELAY_REQUIRE_PEERS=1 a failure is recorded too.
    static func canRun(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        TestEnvironment.peer(path, sourceLocation: sourceLocation) != nil
    }

    func run(against server: SocketAddress, timeout: Double = 60) throws -> SMTPSourceResult {
        var a = ["-s", String(sessions), "-m", String(messages), "-f", from, "-t", to,
                 "-r", String(recipientsPerMessage), "-M", heloName]
        if reuseConnections { a.append("-d") }
        if let size { a += ["-l", String(size)] }
        if let subject { a += ["-S", subject] }
        if continueOnRejects { a.append("-A") }
        let directory = try TemporaryDirectory("smtp-source")
        if let messageFile { a += ["-F", try directory.write("message", messageFile)] }
        let r = try PeerProcess.run(Self.path, a + extraArguments + ["inet:\(server)"], timeout: timeout)
        return SMTPSourceResult(status: r.signaled ? 128 + r.status : r.status, timedOut: r.timedOut,
                                stdout: r.stdoutText, stderr: r.stderr, elapsed: r.elapsed)
    }

    /// The body a server stores for `messageFile` (-F): every line ended with CRLF, then
    /// the extra CRLF smtp-source always adds.
    static func expectedBody(messageFile: [UInt8]) -> [UInt8] {
        var lines = messageFile.split(separator: 0x0A, omittingEmptySubsequences: false)
        if messageFile.last == 0x0A { lines.removeLast() }
        return lines.flatMap { Array($0) + [0x0D, 0x0A] } + [0x0D, 0x0A]
    }

    /// smtp-source's -l payload as a server stores it: `length` bytes of "X" broken into
    /// 80-byte CRLF lines whose first byte is a digit (1, 2, ..., 9, 0, 1, ...), then CRLF.
    static func payload(length: Int) -> [UInt8] {
        var p = [UInt8](repeating: UInt8(ascii: "X"), count: length)
        var i = 80
        while i < length {
            p[i - 80] = Array("0123456789".utf8)[(i / 80) % 10]
            p[i - 2] = 0x0D
            p[i - 1] = 0x0A
            i += 80
        }
        return p + [0x0D, 0x0A]
    }
}
