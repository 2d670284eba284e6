/// The fixed RTP header (RFC 3550 §5.1) with its CSRC list, header extension and padding,
/// validated against the datagram that carries it. Pure: reads bytes, never copies them.
///
///      0                   1                   2                   3
///     |V=2|P|X|  CC   |M|     PT      |       sequence number         |
///     |                           timestamp                           |
///     |           synchronization source (SSRC) identifier            |
///     |            contributing source (CSRC) identifiers (CC × 4)    |
///     |  extension profile (16)       |  extension length (16, words) |   if X
///     |                     extension (length × 4)                    |   if X
///     |                           payload ...                         |
///     |                               |  padding ...  | padding count |   if P
public struct RTPHeader: Equatable, Sendable {
    public static let fixedLength = 12

    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var csrcCount: Int
    /// The extension's profile-defined 16 bits, if X is set.
    public var extensionProfile: UInt16?
    /// Bytes of extension data after its 4-byte header (length field × 4).
    public var extensionLength: Int
    /// Where the payload starts: fixed header + CSRCs + extension.
    public var headerLength: Int
    /// Payload bytes, padding excluded.
    public var payloadLength: Int
    /// Padding bytes at the end, the count byte included (0 without P).
    public var paddingLength: Int

    /// Validates `bytes` as one RTP packet. Rules: at least 12 bytes; version 2; the CSRC
    /// list, the extension header and its data, and the padding all inside the datagram;
    /// a padding count of at least 1 (it counts itself) that leaves the header intact; and
    /// not an RTCP packet type (200…204 in the second byte, which RFC 5761 demultiplexes).
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<RTPHeader, RTPHeaderError> {
        let n = bytes.count
        guard n >= fixedLength else { return .failure(.tooShort(n)) }
        let b0 = bytes[0]
        let b1 = bytes[1]
        guard b0 >> 6 == 2 else { return .failure(.badVersion(b0 >> 6)) }
        if (200...204).contains(b1) { return .failure(.rtcpPacketType(b1)) }
        let cc = Int(b0 & 0x0F)
        var offset = fixedLength + 4 * cc
        guard offset <= n else { return .failure(.csrcBeyondEnd(count: cc, length: n)) }
        var profile: UInt16? = nil
        var extLength = 0
        if b0 & 0x10 != 0 {
            guard offset + 4 <= n else { return .failure(.extensionBeyondEnd(length: n)) }
            profile = be16(bytes, offset)
            extLength = Int(be16(bytes, offset + 2)) * 4
            offset += 4 + extLength
            guard offset <= n else { return .failure(.extensionBeyondEnd(length: n)) }
        }
        var padding = 0
        if b0 & 0x20 != 0 {
            padding = Int(bytes[n - 1])
            guard padding >= 1, offset + padding <= n else {
                return .failure(.badPadding(count: padding, available: n - offset))
            }
        }
        return .success(RTPHeader(marker: b1 & 0x80 != 0, payloadType: b1 & 0x7F,
                                  sequenceNumber: be16(bytes, 2), timestamp: be32(bytes, 4), ssrc: be32(bytes, 8),
                                  csrcCount: cc, extensionProfile: profile, extensionLength: extLength,
                                  headerLength: offset, payloadLength: n - offset - padding, paddingLength: padding))
    }

    public static func parse(_ bytes: [UInt8]) -> Result<RTPHeader, RTPHeaderError> {
        bytes.withUnsafeBytes { parse($0) }
    }

    /// The i-th CSRC of a packet this header was parsed from.
    public func csrc(_ i: Int, in bytes: UnsafeRawBufferPointer) -> UInt32 {
        precondition(i >= 0 && i < csrcCount)
        return be32(bytes, Self.fixedLength + 4 * i)
    }
}

/// Why a datagram is not a valid RTP packet.
public enum RTPHeaderError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooShort(Int)
    case badVersion(UInt8)
    case rtcpPacketType(UInt8)
    case csrcBeyondEnd(count: Int, length: Int)
    case extensionBeyondEnd(length: Int)
    case badPadding(count: Int, available: Int)

    public var description: String {
        switch self {
        case .tooShort(let n): return "\(n) bytes, shorter than the 12-byte RTP header"
        case .badVersion(let v): return "version \(v), not 2"
        case .rtcpPacketType(let t): return "packet type \(t) is RTCP"
        case .csrcBeyondEnd(let c, let n): return "\(c) CSRCs do not fit in \(n) bytes"
        case .extensionBeyondEnd(let n): return "header extension runs past the end of \(n) bytes"
        case .badPadding(let c, let a): return "padding count \(c) with \(a) bytes after the header"
        }
    }
}

@inline(__always)
func be16(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt16 {
    UInt16(b[i]) << 8 | UInt16(b[i + 1])
}

@inline(__always)
func be32(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt32 {
    UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
}
