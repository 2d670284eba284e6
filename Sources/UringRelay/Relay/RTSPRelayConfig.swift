/// Everything `uring-relay rtsp` needs, already validated.
public struct RTSPRelayConfig: RelayModeConfig {
    public var listen: SocketAddress
    public var paths: [RTSPPathSpec]
    /// A pulled path disconnects from its source this long after its last reader left.
    public var onDemandCloseMs: Int = 10_000
    /// Readers' RTSP session timeout (announced in the Session header); a reader that sends
    /// neither requests nor RTCP for this long is dropped.
    public var sessionTimeoutMs: Int = 60_000
    /// How the relay pulls from sources: RTP interleaved in the RTSP connection, or UDP.
    public var sourceTransport: RTSPLowerTransport = .tcp
    /// The server's RTP port for UDP readers and publishers (RTCP on the next); 0 picks a
    /// free even/odd pair at start.
    public var udpRTPPort: UInt16 = 0
    /// Time a source gets to connect and answer DESCRIBE…PLAY before the attempt fails.
    public var sourceTimeoutMs: Int = 10_000
    /// Reconnect backoff towards a source: starts at the first, doubles up to the second.
    public var sourceRetryInitialMs: Int = 1_000
    public var sourceRetryMaxMs: Int = 30_000
    /// Readers (playing sessions) across all paths.
    public var maxReaders: Int = 1024
    /// Bytes one TCP reader may have queued; beyond it the reader is dropped.
    public var readerQueueBytes: Int = 4 << 20
    /// Packets one TCP reader may have queued.
    public var readerQueuePackets: Int = 4096
    /// The shared packet store every reader queue and the keyframe caches point into.
    public var packetArenaBytes: Int = 64 << 20
    /// Bytes of packets kept per track since its last keyframe, so a new reader starts with a
    /// decodable picture; a longer group of pictures is not cached.
    public var keyframeCacheBytes: Int = 4 << 20
    /// Time a client may take to send one whole request once it started (408 beyond).
    public var requestTimeoutMs: Int = 10_000
    /// A client connection with no session and no request for this long is closed.
    public var idleTimeoutMs: Int = 30_000
    /// Client connections from one IP address (beyond: reset, like --max-conns).
    public var maxConnectionsPerIP: Int = 64
    /// Largest RTSP message (headers and body) accepted from a peer.
    public var maxMessageBytes: Int = 64 << 10

    public var engine: EngineChoice = .auto
    /// One worker: every path, its source and its readers share one engine, so a packet is
    /// fanned out without crossing threads. More streams scale with more processes or an
    /// origin → edge tier.
    public var threads: Int { 1 }
    public var maxConnections: Int = 1024
    public var buffersPerWorker: Int = 2048
    public var bufferSize: Int = 16384
    public var zerocopyMinBytes: Int? { nil }
    public var pinWorkers: Bool = false
    public var drainTimeoutMs: Int = 2_000

    public init(listen: SocketAddress, paths: [RTSPPathSpec]) {
        self.listen = listen
        self.paths = paths
    }
}

/// RTP over the RTSP TCP connection (interleaved) or over UDP.
public enum RTSPLowerTransport: String, Sendable, Equatable {
    case tcp, udp
}
