import Testing
@testable import UringRelay

@Suite struct SMTPRelayCommandTests {
    let base = ["--listen", "127.0.0.1:2525", "--upstream", "127.0.0.1:25"]

    @Test func defaults() throws {
        let c = try SMTPRelayCommand.parse(base, cpuCount: 2)
        #expect(c.maxMessageBytes == 25 << 20)
        #expect(c.maxRecipients == 100)
        #expect(c.bareLineEndings == .reject)
        #expect(c.threads == 2)
        #expect(c.engine == .auto)
        #expect(c.allows(.ipv4Loopback(port: 1)))
        #expect(c.allows(.ipv6Loopback(port: 1)))
        #expect(!c.allows(try SocketAddress.parse("192.0.2.1:1")), "never an open relay by default")
        #expect(SMTPRelayCommand.isValidHostname(c.hostname))
    }

    @Test func everyFlag() throws {
        let c = try SMTPRelayCommand.parse(base + [
            "--hostname", "mx.example.org", "--allow", "10.0.0.0/8", "--allow", "2001:db8::/32",
            "--max-size", "10M", "--max-rcpt", "5", "--bare-lf", "normalize", "--engine", "epoll", "--threads", "3",
            "--max-conns", "50", "--connect-timeout", "2s", "--upstream-timeout", "1m", "--command-timeout", "30s",
            "--upstream-idle", "0", "--upstream-idle-timeout", "500ms", "--drain-timeout", "1s", "--pin",
        ], cpuCount: 2)
        #expect(c.hostname == "mx.example.org")
        #expect(c.allows(try SocketAddress.parse("10.1.2.3:1")))
        #expect(c.allows(try SocketAddress.parse("[2001:db8::7]:1")))
        #expect(!c.allows(.ipv4Loopback(port: 1)), "--allow replaces the default")
        #expect(c.maxMessageBytes == 10 << 20)
        #expect(c.maxRecipients == 5)
        #expect(c.bareLineEndings == .normalize)
        #expect(c.engine == .epoll)
        #expect(c.threads == 3)
        #expect(c.maxConnections == 50)
        #expect(c.connectTimeoutMs == 2_000)
        #expect(c.upstreamTimeoutMs == 60_000)
        #expect(c.commandTimeoutMs == 30_000)
        #expect(c.upstreamIdleMax == 0)
        #expect(c.upstreamIdleTimeoutMs == 500)
        #expect(c.drainTimeoutMs == 1_000)
        #expect(c.pinWorkers)
    }

    @Test(arguments: ["", "-mx", ".mx", "mx example", "mx\r\nX-Injected: 1", "mx_1", String(repeating: "a", count: 256)])
    func badHostnames(name: String) {
        #expect(throws: UsageError.self) { try SMTPRelayCommand.parse(base + ["--hostname", name], cpuCount: 1) }
    }
}
