import Testing
import UringRelay

/// An RTSP relay running in the test process on a free port of its own.
final class RTSPRelayUnderTest {
    let server: RTSPRelayServer
    let address: SocketAddress
    let udpPort: UInt16
    private var stopped = false

    init(_ engine: EngineChoice, paths: [RTSPPathSpec], listen: SocketAddress = .ipv4Loopback(port: 0),
         configure: (inout RTSPRelayConfig) -> Void = { _ in }) throws {
        var config = RTSPRelayConfig(listen: listen, paths: paths)
        config.engine = engine
        config.buffersPerWorker = 1024
        config.packetArenaBytes = 32 << 20
        config.sourceRetryInitialMs = 200
        config.sourceRetryMaxMs = 1_000
        config.drainTimeoutMs = 1_000
        configure(&config)
        let mode = try RTSPMode.make(config)
        udpPort = mode.udp.rtpPort
        server = RTSPRelayServer(mode: mode)
        let info = try server.start()
        address = info.listenAddress
        if engine != .auto {
            #expect(info.engine.rawValue == engine.rawValue, "asked for \(engine), got \(info.engine)")
        }
    }

    /// rtsp://127.0.0.1:PORT/NAME
    func url(_ name: String) -> String { "rtsp://127.0.0.1:\(address.port)/\(name)" }

    var counters: RelayCounters.Snapshot { server.counters.snapshot() }

    func stop() {
        guard !stopped else { return }
        stopped = true
        server.requestStop()
        server.waitUntilStopped()
        #expect(!server.hasFailed, "a relay worker failed")
    }

    deinit { stop() }
}
