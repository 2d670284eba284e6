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

/// Base64 for sprop-parameter-sets: the project's `Base64`, made as lenient as camera fmtp
/// lines need — spaces and tabs anywhere, and the URL-safe `-`/`_` alphabet some encoders
/// emit, and padding that is short (`aMuMsg=`): it is dropped, as `Base64` reads unpadded
/// input. Anything else is refused.
enum SPropBase64 {
    static func decode(_ s: Substring) -> [UInt8]? {
        var text = ""
        text.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars where c != " " && c != "\t" {
            text.unicodeScalars.append(c == "-" ? "+" : c == "_" ? "/" : c)
        }
        var padding = 0
        while text.hasSuffix("=") {
            text.removeLast()
            padding += 1
        }
        // At most two, and only where a group is incomplete ("Zm9v=" and "Zg===" are not base64).
        guard padding <= 2, padding == 0 || text.utf8.count % 4 >= 2 else { return nil }
        return Base64.decode(text)
    }

    static func encode(_ bytes: [UInt8]) -> String { Base64.encode(bytes) }
}
