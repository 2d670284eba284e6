/// What a relay needs to know about an H.264 RTP payload (RFC 6184, non-interleaved mode):
/// does it start a keyframe (so a new reader can begin here), and does it carry a whole SPS
/// or PPS (so the relay can keep the latest in-band parameter sets). Pure: reads the payload
/// in place, never copies it, never traps on malformed input.
///
///     payload[0]: F(1) NRI(2) type(5)
///       type 1…23  single NAL unit: the payload is the NAL
///       type 24    STAP-A: { size(16) NAL }… (§5.7.1)
///       type 28    FU-A: FU header S(1) E(1) R(1) type(5), then a fragment (§5.8)
public enum H264RTPPayload {
    static let stapAType: UInt8 = 24
    static let fuAType: UInt8 = 28
    static let idrNALType: UInt8 = 5

    public struct Info: Sendable, Equatable {
        /// Where a whole SPS NAL (header byte included) lies in the payload: a single NAL
        /// packet or one unit of a STAP-A. The last one wins if a STAP-A holds several.
        public var sps: Range<Int>?
        /// Where a whole PPS NAL lies in the payload, as for `sps`.
        public var pps: Range<Int>?
        /// An IDR slice (NAL type 5) begins in this packet: a single IDR NAL, an IDR inside
        /// a STAP-A, or the start fragment (S bit) of an FU-A of type 5.
        public var startsKeyframe: Bool

        public init(sps: Range<Int>? = nil, pps: Range<Int>? = nil, startsKeyframe: Bool = false) {
            self.sps = sps
            self.pps = pps
            self.startsKeyframe = startsKeyframe
        }

        public var containsSPS: Bool { sps != nil }
        public var containsPPS: Bool { pps != nil }
    }

    /// Inspects an RTP payload (the bytes after the RTP header, padding excluded). Malformed
    /// payloads — empty, a STAP-A whose sizes run past the end or that holds nothing, an FU-A
    /// without its FU header — and packet types this relay does not read (0, STAP-B, MTAP,
    /// FU-B, 30/31: interleaved mode, which RTSP cameras do not use) give an empty Info.
    /// The F bit is not checked: a sender sets it on damaged NALs and they still pass through.
    public static func inspect(_ payload: UnsafeRawBufferPointer) -> Info {
        guard let first = payload.first else { return Info() }
        let type = first & 0x1F
        switch type {
        case 1...23:
            var info = Info()
            note(nalType: type, range: 0..<payload.count, in: &info)
            return info
        case stapAType:
            var info = Info()
            var offset = 1
            var units = 0
            while offset < payload.count {
                guard payload.count - offset >= 2 else { return Info() }
                let size = Int(be16(payload, offset))
                offset += 2
                // A zero size ends the aggregate: some senders pad STAP-A with zero bytes.
                if size == 0 { break }
                guard size <= payload.count - offset else { return Info() }
                note(nalType: payload[offset] & 0x1F, range: offset..<(offset + size), in: &info)
                offset += size
                units += 1
            }
            return units > 0 ? info : Info()
        case fuAType:
            guard payload.count >= 2 else { return Info() }
            let fuHeader = payload[1]
            let isStart = fuHeader & 0x80 != 0
            // S and E together are forbidden (§5.8) but harmless to read; a fragment of a
            // parameter set is not whole, so only the keyframe flag can come from an FU-A.
            return Info(startsKeyframe: isStart && fuHeader & 0x1F == idrNALType)
        default:
            return Info()
        }
    }

    public static func inspect(_ payload: [UInt8]) -> Info {
        payload.withUnsafeBytes { inspect($0) }
    }

    private static func note(nalType: UInt8, range: Range<Int>, in info: inout Info) {
        switch nalType {
        case idrNALType: info.startsKeyframe = true
        case H264Parameters.spsNALType: info.sps = range
        case H264Parameters.ppsNALType: info.pps = range
        default: break
        }
    }

    /// Largest NAL one STAP-A unit can hold (its size field is 16 bits).
    public static let maxAggregatedNALBytes = 0xFFFF

    /// The payload of a STAP-A packet aggregating `nals` (each with its NAL header byte, no
    /// start code), e.g. SPS and PPS to send a new reader before its first keyframe. The
    /// STAP-A header takes the highest NRI of the units and F if any unit has F (§5.7.1).
    /// Empty NALs and NALs over `maxAggregatedNALBytes` are left out rather than trapping
    /// (they come from camera data); with nothing left the result is empty.
    public static func stapA(_ nals: [[UInt8]]) -> [UInt8] {
        let units = nals.filter { !$0.isEmpty && $0.count <= maxAggregatedNALBytes }
        guard !units.isEmpty else { return [] }
        var forbidden: UInt8 = 0
        var nri: UInt8 = 0
        for nal in units {
            forbidden |= nal[0] & 0x80
            nri = max(nri, nal[0] & 0x60)
        }
        var out: [UInt8] = [forbidden | nri | stapAType]
        out.reserveCapacity(1 + units.reduce(0) { $0 + 2 + $1.count })
        for nal in units {
            out.append(UInt8(nal.count >> 8))
            out.append(UInt8(nal.count & 0xFF))
            out.append(contentsOf: nal)
        }
        return out
    }
}
