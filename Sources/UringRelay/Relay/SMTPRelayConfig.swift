/// Everything `uring-relay smtp` needs, already validated.
public struct SMTPRelayConfig: RelayModeConfig {
    public var listen: SocketAddress
    public var upstream: SocketAddress
    /// Our name in the greeting, EHLO replies, Received headers and towards the upstream.
    public var hostname: String
    /// Clients allowed to relay (RCPT); others get 554 5.7.1. Default: loopback only.
    public var allow: [CIDR] = SMTPRelayConfig.loopbackOnly
    public var maxMessageBytes: Int = 25 << 20
    public var maxRecipients: Int = 100
    /// Received fields a message may carry (ours included); beyond it: 554 5.4.6, a loop.
    public var maxHops: Int = 50
    public var bareLineEndings: BareLinePolicy = .reject
    public var engine: EngineChoice = .auto
    public var threads: Int = 1
    /// Open client sessions across all workers; beyond it new clients get 421 and are closed.
    public var maxConnections: Int = 1024
    public var buffersPerWorker: Int = 4096
    public var bufferSize: Int = 16384
    /// Upstream TCP connect (and greeting) timeout.
    public var connectTimeoutMs: Int = 30_000
    /// How long the upstream may take to answer one command (RFC 5321 4.5.3.2 suggests
    /// minutes; the end of data gets the larger of this and 10 minutes' share, see worker).
    public var upstreamTimeoutMs: Int = 300_000
    /// How long a client may take to send its next command or data (RFC 5321 4.5.3.2.7: 5 min).
    public var commandTimeoutMs: Int = 300_000
    /// Idle upstream connections kept per worker for the next message.
    public var upstreamIdleMax: Int = 16
    /// How long an idle upstream connection is kept.
    public var upstreamIdleTimeoutMs: Int = 10_000
    public var drainTimeoutMs: Int = 30_000
    public var zerocopyMinBytes: Int? = nil
    public var pinWorkers: Bool = false

    /// `--mode`: cut-through (the client's 250 is the upstream's) or store-and-forward.
    public var delivery: SMTPDeliveryMode = .relay
    /// `--spool DIR` (queue mode).
    public var spoolDirectory: String? = nil
    /// `--spool-max-bytes`: beyond it new mail gets 452 4.3.1.
    public var spoolMaxBytes: Int = 1 << 30
    public var retrySchedule: SpoolRetrySchedule = .standard
    /// Deliveries from the spool in flight per worker (each holds one upstream connection).
    public var maxDeliveriesPerWorker: Int = 16

    public init(listen: SocketAddress, upstream: SocketAddress, hostname: String) {
        self.listen = listen
        self.upstream = upstream
        self.hostname = hostname
    }

    /// Shown in our greeting and looked for in the upstream's: one per process, so a relay
    /// whose upstream is itself (directly or through a TCP forwarder) notices.
    public static let loopToken = "uring-relay-" + String(UInt64.random(in: 1...UInt64.max), radix: 36)

    public static let loopbackOnly: [CIDR] = [try! CIDR.parse("127.0.0.0/8"), try! CIDR.parse("::1/128")]

    /// Whether a client at `address` may relay.
    public func allows(_ address: SocketAddress) -> Bool {
        allow.contains { $0.contains(address) }
    }
}
