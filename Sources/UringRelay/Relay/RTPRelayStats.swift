/// What the RTP relay has seen and done, as a value another thread can read (tests,
/// relay-bench, an RTSP server). Published by the worker at each tick (`RTPRelay.stats`).
public struct RTPRelayStats: Sendable, Equatable {
    /// One RTP source (SSRC) seen on the RTP port.
    public struct Source: Sendable, Equatable {
        public var ssrc: UInt32
        public var packets: Int
        public var bytes: Int
        public var expected: Int
        public var lost: Int
        public var reordered: Int
        public var duplicates: Int
        /// Interarrival jitter (RFC 3550 A.8) in timestamp units, and in milliseconds.
        public var jitter: Double
        public var jitterMs: Double
    }

    /// One destination and what happened to the datagrams meant for it.
    public struct Destination: Sendable, Equatable {
        public var id: RTPDestinationID
        public var address: SocketAddress
        /// RTP datagrams the kernel took for this destination, and their bytes.
        public var rtpSent: Int
        public var rtpBytes: Int
        public var rtcpSent: Int
        /// Lost because the socket had no room (EAGAIN, ENOBUFS): a destination or path that
        /// cannot keep up.
        public var droppedFull: Int
        /// Lost to ECONNREFUSED: an ICMP port unreachable came back for an earlier datagram
        /// (reported on the destination's own connected socket at its next send, which fails).
        public var droppedRefused: Int
        /// Lost to any other send error.
        public var droppedOther: Int
        /// RTCP receiver reports (RR packets) from this destination's RTCP address.
        public var receiverReports: Int
        /// From its last report block: fraction lost (1/256), cumulative lost, jitter.
        public var reportedFractionLost: UInt8
        public var reportedCumulativeLost: Int32
        public var reportedJitter: UInt32

        public var dropped: Int { droppedFull + droppedRefused + droppedOther }
    }

    public var sources: [Source] = []
    public var destinations: [Destination] = []
    /// Valid RTP datagrams received (all sources) and their bytes.
    public var rtpPackets = 0
    public var rtpBytes = 0
    /// Datagrams on the RTP port that are not valid RTP (or were cut to the buffer): dropped.
    public var nonRTP = 0
    public var rtcpPackets = 0
    /// Datagrams on the RTCP port that are not valid compound RTCP: dropped.
    public var nonRTCP = 0
    /// Sender reports (SR packets) from the source, fanned out.
    public var senderReports = 0
    /// RTCP from destinations forwarded to the source (`--rtcp-to-source`).
    public var rtcpToSource = 0
    /// Sources beyond the tracked maximum (counted in rtpPackets only).
    public var untrackedSourcePackets = 0
    /// `addDestination` requests that did not become destinations: no free slot, or their
    /// sockets could not be opened (the cause is logged).
    public var destinationSetupFailures = 0
    /// The worker's engine so far: syscalls (io_uring: io_uring_enter calls) and operations
    /// (io_uring: SQEs), for syscalls-per-packet figures.
    public var engine = EngineCounters()

    public init() {}
}

/// A destination of a running RTP relay. Never reused.
public struct RTPDestinationID: Hashable, Sendable, CustomStringConvertible {
    public let raw: UInt64
    public init(raw: UInt64) { self.raw = raw }
    public var description: String { "#\(raw)" }
}

/// Why a destination cannot be added.
public enum RTPDestinationError: Error, Equatable, Sendable, CustomStringConvertible {
    case familyMismatch(SocketAddress, listen: SocketAddress)
    case noRTCPPort(SocketAddress)
    case tooMany(Int)
    case notRunning
    /// The destination's RTP or RTCP port is one of the relay's own: every packet would come
    /// back and go round for ever.
    case loop(SocketAddress, listen: SocketAddress)

    public var description: String {
        switch self {
        case .familyMismatch(let a, let l): return "destination \(a) is not the same address family as --listen \(l)"
        case .noRTCPPort(let a): return "destination \(a): port 0 or 65535 leaves no RTP/RTCP pair"
        case .tooMany(let n): return "already \(n) destinations, the maximum"
        case .notRunning: return "the relay is not running"
        case .loop(let a, let l):
            return "destination \(a) is this relay's own --listen \(l) (RTP or RTCP port): packets would loop"
        }
    }
}
