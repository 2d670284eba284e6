import Testing
@testable import UringRelay

@Suite struct TCPRelayCommandTests {
    @Test func defaultsAndRequiredFlags() throws {
        let c = try TCPRelayCommand.parse(["--listen", "127.0.0.1:9000", "--upstream", "[::1]:25"], cpuCount: 2)
        #expect(c.listen.description == "127.0.0.1:9000")
        #expect(c.upstream.description == "[::1]:25")
        #expect(c.engine == .auto)
        #expect(c.threads == 2)
        #expect(c.maxConnections == 4096)
        #expect(c.buffersPerWorker == 4096 && c.bufferSize == 16384 && c.buffersPerDirection == 16)
        #expect(c.connectTimeoutMs == 5000 && c.idleTimeoutMs == 300_000 && c.drainTimeoutMs == 10_000)
        #expect(c.zerocopyMinBytes == nil)
    }

    @Test func everyFlag() throws {
        let c = try TCPRelayCommand.parse([
            "--listen=[::]:8080", "--upstream", "10.0.0.1:80", "--engine", "epoll", "--threads", "3",
            "--max-conns", "10", "--buffers", "256", "--buffer-size", "4K", "--conn-buffers", "8",
            "--connect-timeout", "250ms", "--idle-timeout", "2m", "--drain-timeout", "0", "--zerocopy", "--pin",
        ], cpuCount: 2)
        #expect(c.engine == .epoll && c.threads == 3 && c.maxConnections == 10)
        #expect(c.buffersPerWorker == 256 && c.bufferSize == 4096 && c.buffersPerDirection == 8)
        #expect(c.connectTimeoutMs == 250 && c.idleTimeoutMs == 120_000 && c.drainTimeoutMs == 0)
        #expect(c.zerocopyMinBytes == 16384 && c.pinWorkers)
    }

    @Test(arguments: [
        (["--upstream", "127.0.0.1:1"], "--listen is required"),
        (["--listen", "127.0.0.1:1", "--upstream", "127.0.0.1:1", "--buffers", "100"], "power of two"),
        (["--listen", "127.0.0.1:1", "--upstream", "127.0.0.1:1", "--buffers", "16", "--conn-buffers", "16"], "--conn-buffers"),
        (["--listen", "127.0.0.1:1", "--upstream", "127.0.0.1:1", "--buffer-size", "100"], "--buffer-size"),
        (["--listen", "127.0.0.1:1", "--upstream", "127.0.0.1:1", "extra"], "extra"),
        (["--listen", "nosuchhost.invalid:1", "--upstream", "127.0.0.1:1"], "--listen"),
    ])
    func rejects(args: [String], fragment: String) {
        do {
            _ = try TCPRelayCommand.parse(args, cpuCount: 1)
            Issue.record("accepted \(args)")
        } catch {
            #expect(error.description.contains(fragment), "\(error)")
        }
    }
}
