import Testing
@testable import UringRelay

/// An SMTP relay in this process on loopback, two worker threads, short timeouts so fault
/// cases finish quickly. `stop()` is idempotent and always joins the workers.
final class SMTPRelayUnderTest {
    let server: SMTPRelayServer
    let address: SocketAddress
    private var stopped = false

    init(_ engine: EngineChoice, upstream: SocketAddress, listen: SocketAddress = .ipv4Loopback(port: 0),
         configure: (inout SMTPRelayConfig) -> Void = { _ in }) throws {
        var config = SMTPRelayConfig(listen: listen, upstream: upstream, hostname: "relay.test")
        config.engine = engine
        config.threads = 2
        config.buffersPerWorker = 1024
        config.maxConnections = 256
        config.connectTimeoutMs = 3_000
        config.upstreamTimeoutMs = 5_000
        config.commandTimeoutMs = 10_000
        config.drainTimeoutMs = 3_000
        configure(&config)
        server = SMTPRelayServer(config: config)
        let info = try server.start()
        address = info.listenAddress
        if engine != .auto {
            #expect(info.engine.rawValue == engine.rawValue, "asked for \(engine), got \(info.engine)")
        }
    }

    var counters: RelayCounters.Snapshot { server.counters.snapshot() }

    /// Waits (polling: there is no event for it) until no client session is open.
    @discardableResult
    func waitForNoActiveConnections(_ seconds: Double = 5) -> Bool {
        pollUntil(seconds) { server.counters.activeConnections.load(ordering: .relaxed) == 0 }
    }

    func stop() {
        guard !stopped else { return }
        stopped = true
        server.requestStop()
        server.waitUntilStopped()
        #expect(!server.hasFailed, "a relay worker failed")
    }

    deinit { stop() }
}
