/// `uring-relay smtp`.
public struct SMTPMode: RelayMode {
    public var config: SMTPRelayConfig
    public init(config: SMTPRelayConfig) { self.config = config }

    public func makeWorker<E: IOEngine>(engine: E, counters: RelayCounters, workerIndex: Int, listenerFd: Int32,
                                        stopRequested: @escaping @Sendable () -> Bool) -> any RelayWorker {
        SMTPRelayWorker(engine: engine, config: config, counters: counters, workerIndex: workerIndex,
                        listenerFd: listenerFd, stopRequested: stopRequested)
    }

    public func bannerPrefix(listenAddress: SocketAddress) -> String {
        "smtp relay \(config.hostname) listening on \(listenAddress) → upstream \(config.upstream)"
    }

    public var bannerSuffix: String {
        "max-conns \(config.maxConnections); max-size \(config.maxMessageBytes) B; max-rcpt \(config.maxRecipients); "
            + "bare LF \(config.bareLineEndings == .reject ? "rejected" : "normalized"); relay allowed from "
            + config.allow.map(\.description).joined(separator: ", ")
    }
}

/// The SMTP relay (see `SMTPRelayWorker`).
public typealias SMTPRelayServer = RelayServer<SMTPMode>

extension RelayServer where Mode == SMTPMode {
    public convenience init(config: SMTPRelayConfig) { self.init(mode: SMTPMode(config: config)) }
}
