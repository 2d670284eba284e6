import Foundation
import Testing
@testable import UringRelay

/// Runs Tests/peers/smtplib_client.py: Python's smtplib as an SMTP client.
enum SmtplibClient {
    /// /usr/bin/python3 is here (smtplib comes with it). If not, the caller skips its test;
    /// under URING_RELAY_REQUIRE_PEERS=1 a failure is recorded too.
    static func canRun(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        TestEnvironment.python(with: "smtplib", sourceLocation: sourceLocation) != nil
    }

    static func send(to server: SocketAddress, _ options: SmtplibOptions = SmtplibOptions(),
                     timeout: Double = 60) throws -> SmtplibResult {
        let directory = try TemporaryDirectory("smtplib")
        var a = [TestEnvironment.peerScript("smtplib_client.py"), "--server", server.description,
                 "--from", options.from, "--ehlo", options.ehlo, "--messages", String(options.messages),
                 "--timeout", String(options.timeout)]
        for r in options.recipients { a += ["--to", r] }
        for o in options.mailOptions { a += ["--mail-option", o] }
        if options.useHelo { a.append("--helo") }
        if let body = options.body {
            a += ["--body-file", try directory.write("message", body)]
        } else {
            a += ["--generate", String(options.generatedSize)]
        }
        if options.reconnect { a.append("--reconnect") }
        if options.pipelining { a.append("--pipelining") }
        if let chunk = options.chunkSize { a += ["--chunk-size", String(chunk)] }
        let run = try PeerProcess.run(TestEnvironment.systemPython, a, timeout: timeout)
        let decoder = JSONDecoder()
        let messages = try run.stdoutLines.map { try decoder.decode(SmtplibMessageResult.self, from: Data($0.utf8)) }
        return SmtplibResult(status: run.signaled ? 128 + run.status : run.status, timedOut: run.timedOut,
                             stderr: run.stderr, messages: messages)
    }
}
