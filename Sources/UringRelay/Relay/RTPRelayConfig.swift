/// Everything `uring-relay rtp` (or an embedding relay, such as RTSP) needs, validated.
public struct RTPRelayConfig: Sendable {
    /// RTP arrives on this port, RTCP on port + 1 (port 0: any free even/odd pair).
    public var listen: SocketAddress
    /// Receivers' RTP addresses; RTCP goes to each one's port + 1.
    public var destinations: [SocketAddress]
    public var engine: EngineChoice = .auto
    /// Forward receiver reports to the source (the address its RTCP came from). Off by default:
    /// the relay reads and counts them.
    public var rtcpToSource = false
    /// Pool buffers: bounds the datagrams in flight (a power of two, ≤ 32768).
    public var buffers: Int = 4096
    /// Each buffer holds the source address header (44 bytes) and one datagram.
    public var bufferSize: Int = 2048
    /// Sends in flight at once (packets × destinations), bounded by the rings' sizes.
    public var maxSendsInFlight: Int = 32768
    /// Destinations at once (config and API together); at most `maxSendsInFlight`.
    public var maxDestinations: Int = 4096
    /// RTP timestamp clock rate for jitter (90000 for video).
    public var clockRate: Int = 90000
    /// Period of the stats log line; 0: never.
    public var statsIntervalMs: Int = 10_000
    /// Kernel receive buffer of the RTP socket (absorbs bursts while the relay is busy).
    public var socketReceiveBuffer: Int32 = 4 << 20
    public var socketSendBuffer: Int32 = 4 << 20
    public var pinWorker = false

    public init(listen: SocketAddress, destinations: [SocketAddress]) {
        self.listen = listen
        self.destinations = destinations
    }
}
