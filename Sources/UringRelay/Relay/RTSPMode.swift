/// `uring-relay rtsp`.
public struct RTSPMode: RelayMode {
    public var config: RTSPRelayConfig
    /// Bound by `RTSPMode.make` before the server starts; the worker closes it when it stops.
    public let udp: RTSPUDPPair

    public init(config: RTSPRelayConfig, udp: RTSPUDPPair) {
        self.config = config
        self.udp = udp
    }

    /// Binds the UDP pair for `config` and builds the mode.
    public static func make(_ config: RTSPRelayConfig) throws(RelayStartError) -> RTSPMode {
        do {
            return RTSPMode(config: config, udp: try RTSPUDPPair.bind(host: config.listen.withPort(0), rtpPort: config.udpRTPPort))
        } catch {
            throw RelayStartError("cannot bind the UDP media ports: \(error)")
        }
    }

    public func makeWorker<E: IOEngine>(engine: E, counters: RelayCounters, workerIndex: Int, listenerFd: Int32,
                                        stopRequested: @escaping @Sendable () -> Bool) -> any RelayWorker {
        RTSPRelayWorker(engine: engine, config: config, counters: counters, listenerFd: listenerFd, udp: udp,
                        stopRequested: stopRequested)
    }

    public func bannerPrefix(listenAddress: SocketAddress) -> String {
        "rtsp relay listening on \(listenAddress) (UDP media on ports \(udp.rtpPort)-\(udp.rtpPort + 1))"
    }

    public var bannerSuffix: String {
        let list = config.paths.map { p -> String in
            switch p.source {
            case .publish: return "\(p.name) (publish)"
            case .pull(let url, let always): return "\(p.name) ← \(url.requestURI)\(always ? " (always)" : "")"
            }
        }
        return "paths: " + list.joined(separator: ", ") + "; max-readers \(config.maxReaders)"
    }
}

/// The RTSP relay (see `RTSPRelayWorker`).
public typealias RTSPRelayServer = RelayServer<RTSPMode>
