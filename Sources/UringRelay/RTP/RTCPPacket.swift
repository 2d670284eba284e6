/// RTCP packet types this relay knows (RFC 3550 §6, §12.1).
public enum RTCPPacketType: UInt8, Sendable {
    case senderReport = 200
    case receiverReport = 201
    case sourceDescription = 202
    case goodbye = 203
    case application = 204
}

/// One reception report block of an SR or RR (RFC 3550 §6.4.1).
public struct RTCPReportBlock: Equatable, Sendable {
    public var ssrc: UInt32
    /// Fraction lost since the previous report, in 1/256.
    public var fractionLost: UInt8
    /// Cumulative packets lost (24-bit signed: duplicates can make it negative).
    public var cumulativeLost: Int32
    public var extendedHighestSequence: UInt32
    /// Interarrival jitter in timestamp units.
    public var jitter: UInt32
    public var lastSenderReport: UInt32
    public var delaySinceLastSenderReport: UInt32
}

/// The NTP/RTP timestamps and counts of a sender report (RFC 3550 §6.4.1).
public struct RTCPSenderInfo: Equatable, Sendable {
    public var ntpTimestamp: UInt64
    public var rtpTimestamp: UInt32
    public var packetCount: UInt32
    public var octetCount: UInt32
}

/// One packet of a compound RTCP datagram, as `RTCPCompound.parse` found it.
public struct RTCPPacket: Equatable, Sendable {
    /// The raw packet type: one of `RTCPPacketType`, or another (RTPFB, PSFB, XR…) walked over.
    public var packetType: UInt8
    /// The 5-bit count field: report blocks (SR/RR), chunks (SDES), sources (BYE), subtype (APP).
    public var count: Int
    /// Where this packet starts in the datagram, and its length in bytes (header included).
    public var offset: Int
    public var length: Int
    /// The first SSRC after the header (the sender of an SR/RR/APP, the first chunk or source
    /// of SDES/BYE); nil if the packet carries none.
    public var ssrc: UInt32?
    public var senderInfo: RTCPSenderInfo?
    public var reportBlocks: [RTCPReportBlock]

    public var type: RTCPPacketType? { RTCPPacketType(rawValue: packetType) }
}

/// Why a datagram is not a valid compound RTCP packet (RFC 3550 §6.1, A.2).
public enum RTCPError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    /// Fewer than 4 bytes left for a packet header at this offset.
    case truncatedHeader(offset: Int)
    case badVersion(offset: Int, version: UInt8)
    /// The length field runs past the end of the datagram.
    case lengthBeyondEnd(offset: Int, length: Int, available: Int)
    /// The packet is too short for what its type and count say it holds.
    case bodyTooShort(offset: Int, type: UInt8, length: Int, needed: Int)
    /// Padding on a packet other than the last, or a padding count that does not fit.
    case badPadding(offset: Int)
    /// A compound packet must start with an SR or RR (RFC 3550 A.2).
    case firstNotReport(type: UInt8)
    /// More packets than `RTCPCompound.maxPackets` in one datagram.
    case tooManyPackets(Int)

    public var description: String {
        switch self {
        case .empty: return "empty datagram"
        case .truncatedHeader(let o): return "truncated RTCP header at byte \(o)"
        case .badVersion(let o, let v): return "version \(v) at byte \(o), not 2"
        case .lengthBeyondEnd(let o, let l, let a): return "packet at byte \(o) says \(l) bytes, \(a) left"
        case .bodyTooShort(let o, let t, let l, let n): return "type \(t) at byte \(o): \(l) bytes, needs \(n)"
        case .badPadding(let o): return "bad padding on the packet at byte \(o)"
        case .firstNotReport(let t): return "compound packet starts with type \(t), not SR or RR"
        case .tooManyPackets(let m): return "more than \(m) packets in one compound packet"
        }
    }
}
