/// `uring-relay smtp`.
public struct SMTPMode: RelayMode {
    public var config: SMTPRelayConfig
    /// Queue mode: the spool every worker shares (its size and what start-up found).
    let spool: SMTPSpoolShared?

    public init(config: SMTPRelayConfig) {
        self.config = config
        spool = config.delivery == .queue
            ? SMTPSpoolShared(directory: SpoolDirectory(path: config.spoolDirectory ?? "spool"), maxBytes: config.spoolMaxBytes)
            : nil
    }

    public func prepare() throws(RelayStartError) {
        guard let spool else { return }
        do {
            try spool.open(workers: config.threads)
        } catch {
            throw RelayStartError("\(error)")
        }
    }

    public func makeWorker<E: IOEngine>(engine: E, counters: RelayCounters, workerIndex: Int, listenerFd: Int32,
                                        stopRequested: @escaping @Sendable () -> Bool) -> any RelayWorker {
        SMTPRelayWorker(engine: engine, config: config, counters: counters, workerIndex: workerIndex,
                        listenerFd: listenerFd, spool: spool, stopRequested: stopRequested)
    }

    public func bannerPrefix(listenAddress: SocketAddress) -> String {
        "smtp relay \(config.hostname) listening on \(listenAddress) → upstream \(config.upstream)"
            + (spool.map { "; queue mode, spool \($0.directory.path) (\($0.foundAtStart) message(s), \($0.accounting.usedBytes) of \($0.accounting.maxBytes) B)" } ?? "")
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
