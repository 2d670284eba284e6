/// Everything `uring-relay tcp` needs, already validated.
public struct TCPRelayConfig: RelayModeConfig {
    public var listen: SocketAddress
    public var upstream: SocketAddress
    public var engine: EngineChoice = .auto
    public var threads: Int = 1
    /// Across all workers; beyond it new clients are refused (reset) and logged.
    public var maxConnections: Int = 4096
    /// Pool per worker: this many buffers of `bufferSize` bytes (a power of two, ≤ 32768).
    public var buffersPerWorker: Int = 4096
    public var bufferSize: Int = 16384
    /// Filled buffers a direction may hold before reading from its source pauses:
    /// with `bufferSize` this bounds memory per connection.
    public var buffersPerDirection: Int = 16
    public var connectTimeoutMs: Int = 5_000
    /// A connection with no bytes in either direction for this long is closed.
    public var idleTimeoutMs: Int = 300_000
    /// After SIGINT/SIGTERM, open connections get this long to finish.
    public var drainTimeoutMs: Int = 10_000
    /// Use send_zc for sends of at least this many bytes (io_uring only); nil: off.
    public var zerocopyMinBytes: Int? = nil
    /// Pin worker i to CPU i (relay-bench pins the load generator elsewhere).
    public var pinWorkers: Bool = false

    public init(listen: SocketAddress, upstream: SocketAddress) {
        self.listen = listen
        self.upstream = upstream
    }
}

/// `--engine uring|epoll|auto`.
public enum EngineChoice: String, Sendable, CaseIterable {
    case uring, epoll, auto
}
