/// The settings every relay mode shares: what `RelayServer` needs to bind, size and run
/// workers, whatever protocol they speak.
public protocol RelayModeConfig: Sendable {
    var listen: SocketAddress { get }
    var engine: EngineChoice { get }
    var threads: Int { get }
    var maxConnections: Int { get set }
    var buffersPerWorker: Int { get }
    var bufferSize: Int { get }
    var zerocopyMinBytes: Int? { get }
    var pinWorkers: Bool { get }
    var drainTimeoutMs: Int { get }
}

/// One worker's loop, whatever its mode: runs until stopped and drained.
public protocol RelayWorker: AnyObject {
    func run() throws(SystemError)
}

/// A relay mode (tcp, smtp, …): its configuration and how to build a worker on an engine.
public protocol RelayMode: Sendable {
    associatedtype Config: RelayModeConfig
    var config: Config { get set }
    func makeWorker<E: IOEngine>(engine: E, counters: RelayCounters, workerIndex: Int, listenerFd: Int32,
                                 stopRequested: @escaping @Sendable () -> Bool) -> any RelayWorker
    /// "tcp relay listening on A → upstream B": the start of the start-up line.
    func bannerPrefix(listenAddress: SocketAddress) -> String
    /// Mode-specific sizes at the end of the start-up line.
    var bannerSuffix: String { get }
    /// Once, before any worker starts (the SMTP spool is opened and scanned here).
    func prepare() throws(RelayStartError)
}

extension RelayMode {
    public func prepare() throws(RelayStartError) {}
}

/// `uring-relay tcp`.
public struct TCPMode: RelayMode {
    public var config: TCPRelayConfig
    public init(config: TCPRelayConfig) { self.config = config }

    public func makeWorker<E: IOEngine>(engine: E, counters: RelayCounters, workerIndex: Int, listenerFd: Int32,
                                        stopRequested: @escaping @Sendable () -> Bool) -> any RelayWorker {
        TCPRelayWorker(engine: engine, config: config, counters: counters, workerIndex: workerIndex,
                       listenerFd: listenerFd, stopRequested: stopRequested)
    }

    public func bannerPrefix(listenAddress: SocketAddress) -> String {
        "tcp relay listening on \(listenAddress) → upstream \(config.upstream)"
    }

    public var bannerSuffix: String {
        "\(config.buffersPerDirection) buffers per direction; max-conns \(config.maxConnections)"
    }
}
