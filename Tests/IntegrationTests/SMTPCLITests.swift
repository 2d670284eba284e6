import Foundation
import Glibc
import Testing
@testable import UringRelay

/// `uring-relay smtp` as an operator meets it: help, one-line usage errors, the banner, a
/// real session through the binary, and a clean stop.
@Suite struct SMTPCLITests {
    let relay = TestEnvironment.relayBinary

    @Test func helpListsEveryFlag() throws {
        let r = try ChildProcess.run(relay, ["smtp", "--help"])
        #expect(r.status == 0)
        for flag in ["--listen", "--upstream", "--hostname", "--allow", "--max-size", "--max-rcpt", "--bare-lf",
                     "--engine", "--threads", "--max-conns", "--connect-timeout", "--upstream-timeout", "--command-timeout",
                     "--upstream-idle", "--drain-timeout"] {
            #expect(r.stdout.contains(flag), "help lacks \(flag)")
        }
        let top = try ChildProcess.run(relay, ["--help"])
        #expect(top.stdout.contains("smtp"))
        #expect(!top.stdout.contains("smtp    relay mail to a smarthost            (not built yet)"))
    }

    @Test(arguments: [
        (["smtp", "--listen", "127.0.0.1:0"], "--upstream is required"),
        (["smtp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:25", "--allow", "10.0.0.0/33"], "--allow"),
        (["smtp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:25", "--bare-lf", "fix"], "--bare-lf"),
        (["smtp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:25", "--max-size", "lots"], "--max-size"),
        (["smtp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:25", "--max-rcpt", "0"], "--max-rcpt"),
        (["smtp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:25", "--hostname", "bad name\r\nX"], "--hostname"),
        (["smtp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:25", "--command-timeout", "300"], "unit"),
        (["smtp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:0"], "--upstream needs a port"),
    ])
    func usageErrorsAreOneLineWithExitCode2(args: [String], expected: String) throws {
        let r = try ChildProcess.run(relay, args)
        #expect(r.status == 2, "\(args): status \(r.status), stderr \(r.stderr)")
        let text = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!text.isEmpty && !text.contains("\n"), "\(args): \(r.stderr)")
        #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
    }

    @Test(arguments: engines)
    func bannerSessionAndStop(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine) else { return }
        let closed = try RefusingPort()
        defer { closed.close() }
        let listener = try Blocking.listen(.ipv4Loopback(port: 0))
        let port = listener.address.port
        close(listener.fd)
        let child = try ChildProcess(relay, ["smtp", "--listen", "127.0.0.1:\(port)", "--upstream", "\(closed.address)",
                                             "--hostname", "mx.relay.test", "--engine", engine.rawValue, "--threads", "1"])
        let banner = child.readStderr(until: "relay allowed from")
        #expect(banner.contains("smtp relay mx.relay.test listening on 127.0.0.1:\(port)"))
        #expect(banner.contains("engine \(engine == .uring ? "io_uring" : "epoll")"))
        #expect(banner.contains("max-size 26214400 B"))
        let c = try SMTPTestClient(.ipv4Loopback(port: port))
        let greeting = try c.reply()
        #expect(greeting.code == 220)
        #expect(greeting.lines.first?.hasPrefix("mx.relay.test") == true)
        #expect(try c.command("MAIL FROM:<a@example.org>") == 503, "EHLO first")
        #expect(try c.command("EHLO client.test") == 250)
        #expect(try c.command("MAIL FROM:<a@example.org>") == 451, "no upstream: transient")
        #expect(try c.command("QUIT") == 221)
        child.signal(SIGTERM)
        let end = child.finish()
        #expect(end.status == 0, "\(end.stderr)")
        #expect(end.stderr.contains("stopped: 1 sessions"))
    }
}
