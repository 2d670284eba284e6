import Testing
@testable import UringRelay

/// Runs swaks, the "Swiss Army Knife for SMTP", as an SMTP client.
enum SwaksClient {
    static let path = "/usr/bin/swaks"

    /// swaks is installed. If not, the caller skips its test; under
    /// URING_RELAY_REQUIRE_PEERS=1 a failure is recorded too.
    static func canRun(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        TestEnvironment.peer(path, sourceLocation: sourceLocation) != nil
    }

    /// Sends one message to `server`. `data`, when given, is the whole message (headers
    /// and body), sent byte for byte: it is dot-stuffed here, ended with CRLF if it does
    /// not end in one, and handed to swaks with --no-data-fixup, so a server stores exactly
    /// `data` (plus that CRLF). Without it swaks sends its own small test message.
    static func send(to server: SocketAddress, from: String = "sender@client.test",
                     recipients: [String] = ["rcpt@upstream.test"], data: [UInt8]? = nil,
                     pipelining: Bool = false, ehlo: String = "client.test",
                     extraArguments: [String] = [], timeout: Double = 30) throws -> SwaksResult {
        var arguments = ["--server", server.ipString, "--port", String(server.port),
                         "--from", from, "--to", recipients.joined(separator: ","), "--ehlo", ehlo,
                         "--timeout", "\(Int(timeout.rounded(.up)))s"]
        if pipelining { arguments.append("--pipeline") }
        let directory = try TemporaryDirectory("swaks")
        if let data {
            // With --no-data-fixup swaks adds nothing but one CRLF after the data, so the
            // file ends in "\r\n." and that CRLF completes the end-of-data line.
            arguments += ["--data", "@" + (try directory.write("message", dotStuffed(data) + Array(".".utf8))),
                          "--no-data-fixup"]
        }
        return try run(arguments + extraArguments, timeout: timeout + 5)
    }

    /// Runs swaks with `arguments` as they are.
    static func run(_ arguments: [String], timeout: Double = 35) throws -> SwaksResult {
        let r = try PeerProcess.run(path, arguments, timeout: timeout)
        return SwaksResult(status: r.signaled ? 128 + r.status : r.status, timedOut: r.timedOut,
                           transcript: r.stdoutText, stderr: r.stderr)
    }

    /// `data` with CRLF appended if missing and a "." doubled at the start of every line
    /// (RFC 5321 4.5.2); lines end at CRLF only, as a server sees them.
    static func dotStuffed(_ data: [UInt8]) -> [UInt8] {
        var body = data
        if !(body.count >= 2 && body[body.count - 2] == 0x0D && body[body.count - 1] == 0x0A) { body += [0x0D, 0x0A] }
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 16)
        var lineStart = true
        var i = 0
        while i < body.count {
            if lineStart && body[i] == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
            out.append(body[i])
            lineStart = body[i] == 0x0A && i > 0 && body[i - 1] == 0x0D
            i += 1
        }
        return out
    }
}
