/// The H.264 parameter sets of a stream (SPS and PPS NAL units, without start codes), as
/// the SDP announces them in `sprop-parameter-sets` (RFC 6184 §8.1) or as the relay last saw
/// them in band. A reader that joins mid-stream cannot decode the first keyframe without them.
public struct H264Parameters: Sendable, Equatable {
    /// NAL unit types (H.264 Table 7-1) that hold parameter sets.
    static let spsNALType: UInt8 = 7
    static let ppsNALType: UInt8 = 8

    /// The sequence parameter set, NAL header byte included.
    public var sps: [UInt8]?
    /// The picture parameter set, NAL header byte included.
    public var pps: [UInt8]?

    public init(sps: [UInt8]? = nil, pps: [UInt8]? = nil) {
        self.sps = sps
        self.pps = pps
    }

    /// Reads `sprop-parameter-sets=<base64>,<base64>` from an fmtp value, with or without
    /// the leading payload type (`96 packetization-mode=1;sprop-parameter-sets=…`). Tolerant,
    /// as cameras are: spaces around `;`, `=` and `,`, a key in any case, base64 without
    /// padding, the sets in any order (each goes by its NAL type: 7 SPS, 8 PPS; the first of
    /// each kind wins). Sets that do not decode, or are of another type, are skipped; nothing
    /// found gives an empty value.
    public static func fromFmtp(_ fmtp: String) -> H264Parameters {
        var result = H264Parameters()
        var text = Substring(fmtp)
        // The payload type before the parameters: digits followed by a space.
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        if !digits.isEmpty, let next = text.dropFirst(digits.count).first, next == " " || next == "\t" {
            text = text.dropFirst(digits.count)
        }
        for parameter in text.split(separator: ";") {
            guard let equals = parameter.firstIndex(of: "=") else { continue }
            let key = String(parameter[..<equals]).trimmedSDP
            guard SessionDescription.equalsIgnoringCase(key, "sprop-parameter-sets") else { continue }
            for set in parameter[parameter.index(after: equals)...].split(separator: ",") {
                guard let nal = SPropBase64.decode(set), let header = nal.first else { continue }
                switch header & 0x1F {
                case spsNALType where result.sps == nil: result.sps = nal
                case ppsNALType where result.pps == nil: result.pps = nal
                default: continue
                }
            }
        }
        return result
    }

    /// The `sprop-parameter-sets` value for the relay's clean SDP: padded base64 of the SPS,
    /// then the PPS, comma-separated; the one present if only one is; nil if neither is.
    public var spropParameterSets: String? {
        let sets = [sps, pps].compactMap { $0 }.filter { !$0.isEmpty }
        guard !sets.isEmpty else { return nil }
        return sets.map(SPropBase64.encode).joined(separator: ",")
    }

    /// `profile-level-id` (RFC 6184 §8.1): profile_idc, the constraint flags and level_idc,
    /// which are the three bytes after the SPS NAL header, as 6 lowercase hex digits.
    public var profileLevelID: String? {
        guard let sps, sps.count >= 4 else { return nil }
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in sps[1...3] { out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 0x0F)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Base64 (RFC 4648 §4) for sprop-parameter-sets only: kept private to this file so it does
/// not collide with the project's general Base64 type. Decoding is lenient the way camera
/// fmtp lines need: missing `=` padding, spaces and tabs anywhere, and the URL-safe `-`/`_`
/// alphabet, which some encoders emit. Anything else (bad characters, data after padding, a
/// length that cannot be base64) is refused.
enum SPropBase64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The 6-bit value of a base64 character, or nil.
    private static func sextet(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(c - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(c - UInt8(ascii: "a") + 26)
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0") + 52)
        case UInt8(ascii: "+"), UInt8(ascii: "-"): return 62
        case UInt8(ascii: "/"), UInt8(ascii: "_"): return 63
        default: return nil
        }
    }

    static func decode(_ s: Substring) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count * 3 / 4)
        var accumulator: UInt32 = 0
        var count = 0  // characters in the current group of 4
        var padding = 0
        for c in s.utf8 {
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { continue }
            if c == UInt8(ascii: "=") {
                padding += 1
                guard padding <= 2 else { return nil }
                continue
            }
            guard padding == 0, let v = sextet(c) else { return nil }
            accumulator = accumulator << 6 | v
            count += 1
            if count == 4 {
                out.append(UInt8(truncatingIfNeeded: accumulator >> 16))
                out.append(UInt8(truncatingIfNeeded: accumulator >> 8))
                out.append(UInt8(truncatingIfNeeded: accumulator))
                accumulator = 0
                count = 0
            }
        }
        // A final group of 2 or 3 characters carries 1 or 2 bytes, padded or not; padding must
        // not exceed what the group lacks. One lone character cannot encode a byte.
        switch count {
        case 0: guard padding == 0 else { return nil }
        case 2:
            out.append(UInt8(truncatingIfNeeded: accumulator >> 4))
        case 3:
            guard padding <= 1 else { return nil }
            out.append(UInt8(truncatingIfNeeded: accumulator >> 10))
            out.append(UInt8(truncatingIfNeeded: accumulator >> 2))
        default: return nil
        }
        return out
    }

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let remaining = bytes.count - i
            let b0 = UInt32(bytes[i])
            let b1 = remaining > 1 ? UInt32(bytes[i + 1]) : 0
            let b2 = remaining > 2 ? UInt32(bytes[i + 2]) : 0
            let group = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(group >> 18 & 0x3F)])
            out.append(alphabet[Int(group >> 12 & 0x3F)])
            out.append(remaining > 1 ? alphabet[Int(group >> 6 & 0x3F)] : UInt8(ascii: "="))
            out.append(remaining > 2 ? alphabet[Int(group & 0x3F)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
