/// An SDP session description (RFC 4566), read the way a relay needs it: which media there
/// are, how to SETUP each one (`a=control`), and which lines describe the codec so the relay
/// can serve its own clean SDP to readers.
///
/// Parsing is tolerant because cameras are sloppy (see shared/cases/rtsp.md): no `v=` line,
/// no `s=` line, origins with empty, `host:port` or decimal-fraction fields, `t=now-`,
/// `c=IN 198.51.100.1`, LF-only line endings. None of those lines carry anything the relay
/// uses from the source, so they are never validated; lines that are not `x=value` are
/// skipped. The only hard failures are "no media at all" and "not text".
public struct SessionDescription: Sendable, Equatable {
    /// Bounds on what a camera may send us, so a hostile or broken DESCRIBE body cannot make
    /// the parser allocate without limit. Real SDPs are a few hundred bytes with 1–4 media.
    public static let maxLengthBytes = 64 * 1024
    public static let maxMediaCount = 64
    public static let maxAttributesPerSection = 256

    /// One `m=` section and the `a=` lines that follow it.
    public struct Media: Sendable, Equatable {
        /// `video`, `audio`, `application`, … as the source wrote it.
        public var type: String
        /// The port of the `m=` line (0 in RTSP, where SETUP negotiates ports). 0 when the
        /// field is not a number.
        public var port: Int
        /// The transport profile, e.g. `RTP/AVP`, `RTP/AVPF`, `RTP/SAVP`.
        public var proto: String
        /// Payload formats: RTP payload type numbers for RTP profiles.
        public var formats: [String]
        /// `a=name:value` lines in order; `a=flag` lines have a nil value.
        public var attributes: [(name: String, value: String?)]

        public init(type: String, port: Int = 0, proto: String = "RTP/AVP", formats: [String],
                    attributes: [(name: String, value: String?)] = []) {
            self.type = type
            self.port = port
            self.proto = proto
            self.formats = formats
            self.attributes = attributes
        }

        /// The value of the first attribute named `name` (case-insensitive, as RFC 4566
        /// attribute names are in practice); nil if absent or a flag without a value.
        public func attribute(_ name: String) -> String? {
            for a in attributes where SessionDescription.equalsIgnoringCase(a.name, name) {
                return a.value
            }
            return nil
        }

        /// Whether an attribute named `name` is present at all (flags like `a=recvonly`).
        public func hasAttribute(_ name: String) -> Bool {
            attributes.contains { SessionDescription.equalsIgnoringCase($0.name, name) }
        }

        /// The `a=control` value: a track URL relative to the content base, or absolute.
        public var control: String? { attribute("control") }

        /// The `a=rtpmap` value of the first payload type (e.g. `96 H264/90000`); the first
        /// `a=rtpmap` if none names it (some cameras list one format and map another).
        public var rtpmap: String? { lineForPayloadType("rtpmap") }

        /// The `a=fmtp` value of the first payload type, payload type included
        /// (e.g. `96 packetization-mode=1;…`); the first `a=fmtp` if none names it.
        public var fmtp: String? { lineForPayloadType("fmtp") }

        /// The first format as an RTP payload type (0…127); nil if it is not one.
        public var payloadType: Int? {
            guard let f = formats.first, let pt = Int(f), (0...127).contains(pt) else { return nil }
            return pt
        }

        /// The encoding name of the rtpmap (`H264`, `MPEG4-GENERIC`, `PCMA`…), or the
        /// RFC 3551 name of a static payload type when there is no rtpmap.
        public var encodingName: String? {
            if let parts = rtpmapParts { return parts.name }
            guard let pt = payloadType else { return nil }
            return Self.staticPayloadTypes[pt]?.name
        }

        /// The RTP clock rate in Hz: the rtpmap's `/rate` (`96 H264/90000` → 90000), or the
        /// RFC 3551 rate of a static payload type (0 PCMU and 8 PCMA → 8000) when there is no
        /// rtpmap; nil otherwise (a dynamic type with no rtpmap says nothing).
        public var clockRate: Int? {
            if let parts = rtpmapParts { return parts.clockRate }
            guard let pt = payloadType else { return nil }
            return Self.staticPayloadTypes[pt]?.clockRate
        }

        /// RFC 3551 §6 static audio/video payload types that cameras send without an rtpmap.
        static let staticPayloadTypes: [Int: (name: String, clockRate: Int)] = [
            0: ("PCMU", 8000), 3: ("GSM", 8000), 4: ("G723", 8000), 5: ("DVI4", 8000), 6: ("DVI4", 16000),
            7: ("LPC", 8000), 8: ("PCMA", 8000), 9: ("G722", 8000), 10: ("L16", 44100), 11: ("L16", 44100),
            12: ("QCELP", 8000), 13: ("CN", 8000), 14: ("MPA", 90000), 15: ("G728", 8000), 16: ("DVI4", 11025),
            17: ("DVI4", 22050), 18: ("G729", 8000), 25: ("CelB", 90000), 26: ("JPEG", 90000), 28: ("nv", 90000),
            31: ("H261", 90000), 32: ("MPV", 90000), 33: ("MP2T", 90000), 34: ("H263", 90000),
        ]

        /// `96 H264/90000/2` → ("H264", 90000); nil without an rtpmap. A rate that is not a
        /// positive number gives a nil clock rate but keeps the name.
        private var rtpmapParts: (name: String, clockRate: Int?)? {
            guard let map = rtpmap else { return nil }
            // Skip the payload type; some cameras put several spaces or a tab after it.
            let afterType = map.drop { $0 != " " && $0 != "\t" }.drop { $0 == " " || $0 == "\t" }
            let encoding = afterType.isEmpty ? Substring(map) : afterType
            let fields = encoding.split(separator: "/", omittingEmptySubsequences: false)
            let name = String(fields[0]).trimmedSDP
            var rate: Int? = nil
            if fields.count > 1, let r = Int(String(fields[1]).trimmedSDP), r > 0 { rate = r }
            return (name, rate)
        }

        private func lineForPayloadType(_ name: String) -> String? {
            var first: String? = nil
            let wanted = formats.first
            for a in attributes where SessionDescription.equalsIgnoringCase(a.name, name) {
                guard let value = a.value else { continue }
                if first == nil { first = value }
                if let wanted, value.prefix(while: { $0 != " " && $0 != "\t" }) == wanted { return value }
            }
            return first
        }

        public static func == (a: Media, b: Media) -> Bool {
            a.type == b.type && a.port == b.port && a.proto == b.proto && a.formats == b.formats
                && SessionDescription.attributesEqual(a.attributes, b.attributes)
        }
    }

    /// The `s=` value, if there was one.
    public var sessionName: String?
    /// Session-level `a=` lines (before the first `m=`).
    public var sessionAttributes: [(name: String, value: String?)]
    /// The session-level `a=control` (often `*`, or an absolute aggregate URL).
    public var sessionControl: String?
    public var media: [Media]

    public init(sessionName: String? = nil, sessionAttributes: [(name: String, value: String?)] = [],
                sessionControl: String? = nil, media: [Media]) {
        self.sessionName = sessionName
        self.sessionAttributes = sessionAttributes
        self.sessionControl = sessionControl
        self.media = media
    }

    public static func == (a: SessionDescription, b: SessionDescription) -> Bool {
        a.sessionName == b.sessionName && a.sessionControl == b.sessionControl && a.media == b.media
            && attributesEqual(a.sessionAttributes, b.sessionAttributes)
    }

    // MARK: Parsing

    /// Parses an SDP body. Returns nil when there is no `m=` section (nothing to relay), when
    /// the bytes are not text (NUL or other control bytes besides TAB/CR/LF; trailing NULs
    /// are ignored), or when they
    /// exceed `maxLengthBytes`. Media beyond `maxMediaCount` and attributes beyond
    /// `maxAttributesPerSection` are dropped rather than failing a camera we could still use.
    public static func parse(_ text: [UInt8]) -> SessionDescription? {
        guard text.count <= maxLengthBytes else { return nil }
        var body = text[...]
        // Some cameras count a C string's terminating NUL in Content-Length.
        while body.last == 0 { body = body.dropLast() }
        for b in body where b < 0x20 && b != 0x09 && b != 0x0A && b != 0x0D || b == 0x7F {
            return nil
        }
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }  // UTF-8 BOM from some web UIs
        // Invalid UTF-8 is repaired (U+FFFD) rather than refused: only ASCII fields matter.
        let string = String(decoding: body, as: UTF8.self)

        var result = SessionDescription(media: [])
        var current: Media? = nil
        // Once an m= line is seen, a= lines never go to the session again, even when that
        // m= line was unusable (empty, or past maxMediaCount): they belong to it.
        var sawMediaLine = false
        // A bare CR also ends a line: old Mac-style bodies exist, and CR never belongs in a value.
        for rawLine in string.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            let line = rawLine.drop { $0 == " " || $0 == "\t" }
            guard let type = line.first, type.isASCII, type.isLetter,
                  line.dropFirst().first == "=" else { continue }
            let value = String(line.dropFirst(2)).trimmedSDP
            switch type {
            case "m":
                if let m = current { result.media.append(m) }
                sawMediaLine = true
                current = result.media.count < maxMediaCount ? parseMediaLine(value) : nil
            case "a":
                let attribute = parseAttribute(value)
                if current != nil {
                    if current!.attributes.count < maxAttributesPerSection { current!.attributes.append(attribute) }
                } else if !sawMediaLine {
                    if result.sessionAttributes.count < maxAttributesPerSection {
                        result.sessionAttributes.append(attribute)
                    }
                    if result.sessionControl == nil, equalsIgnoringCase(attribute.name, "control") {
                        result.sessionControl = attribute.value
                    }
                }
            case "s":
                if result.sessionName == nil && !sawMediaLine { result.sessionName = value }
            default:
                // v, o, c, t, b, i, u, e, p, k, r, z: nothing the relay takes from the source.
                continue
            }
        }
        if let m = current { result.media.append(m) }
        return result.media.isEmpty ? nil : result
    }

    /// `video 0 RTP/AVP 96 97` → Media. A port like `5004/2` (port count) keeps 5004; a
    /// port that is not a number becomes 0; missing proto or formats stay empty.
    private static func parseMediaLine(_ value: String) -> Media? {
        let fields = value.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let type = fields.first else { return nil }
        var port = 0
        if fields.count > 1, let p = Int(fields[1].prefix { $0 != "/" }), p >= 0 { port = p }
        let proto = fields.count > 2 ? String(fields[2]) : ""
        let formats = fields.count > 3 ? fields[3...].map(String.init) : []
        return Media(type: String(type), port: port, proto: proto, formats: formats)
    }

    /// `control:trackID=1` → ("control", "trackID=1"); `recvonly` → ("recvonly", nil).
    private static func parseAttribute(_ value: String) -> (name: String, value: String?) {
        guard let colon = value.firstIndex(of: ":") else { return (value, nil) }
        return (String(value[..<colon]).trimmedSDP, String(value[value.index(after: colon)...]).trimmedSDP)
    }

    // MARK: The relay's own SDP

    /// Attributes the relay does not copy from a source's media into its own SDP: the
    /// control URL (the relay names tracks itself), the range (the relay is live), the
    /// direction (readers only receive), and source transport details that are wrong once
    /// the relay re-sends the stream (RTCP port, mux, the source's SSRC, SRTP keys while the
    /// relay serves plain RTP/AVP).
    static let droppedMediaAttributes: Set<String> = [
        "control", "range", "recvonly", "sendonly", "sendrecv", "inactive",
        "rtcp", "rtcp-mux", "ssrc", "crypto", "key-mgmt",
    ]

    /// The SDP the relay serves to its readers for this stream: a fixed session header and,
    /// for each media i, `m=<type> 0 RTP/AVP <formats>`, the codec-describing attributes of
    /// the source (rtpmap, fmtp, framerate, …) and `a=control:trackID=<i>`. CRLF line endings.
    /// `originAddress` containing a `:` is taken as IPv6 (brackets are removed).
    public func cleanSDP(sessionName: String, originAddress: String, sessionID: UInt64) -> [UInt8] {
        var address = originAddress
        if address.hasPrefix("["), address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
        let isIPv6 = address.contains(":")
        var out = ""
        func line(_ s: String) { out += s; out += "\r\n" }
        line("v=0")
        line("o=- \(sessionID) 1 IN \(isIPv6 ? "IP6" : "IP4") \(address)")
        // An empty s= is invalid (RFC 4566 §5.3): one space is the spec's "no name".
        line("s=\(sessionName.isEmpty ? " " : Self.singleLine(sessionName))")
        line(isIPv6 ? "c=IN IP6 ::" : "c=IN IP4 0.0.0.0")
        line("t=0 0")
        line("a=control:*")
        line("a=tool:uring-relay")
        for (i, m) in media.enumerated() {
            let formats = m.formats.isEmpty ? "" : " " + m.formats.joined(separator: " ")
            line("m=\(Self.singleLine(m.type)) 0 RTP/AVP\(Self.singleLine(formats))")
            for a in m.attributes where !Self.droppedMediaAttributes.contains(a.name.lowercased()) {
                if let v = a.value { line("a=\(Self.singleLine(a.name)):\(Self.singleLine(v))") } else {
                    line("a=\(Self.singleLine(a.name))")
                }
            }
            line("a=control:trackID=\(i)")
        }
        return Array(out.utf8)
    }

    /// Values from the parser never hold CR/LF, but a caller-built Media or session name
    /// might: never let one inject an extra SDP line.
    private static func singleLine(_ s: String) -> String {
        guard s.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return s }
        return String(s.filter { $0 != "\r" && $0 != "\n" && $0 != "\r\n" })
    }

    // MARK: Helpers

    static func attributesEqual(_ a: [(name: String, value: String?)], _ b: [(name: String, value: String?)]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { asciiLower($0) == asciiLower($1) }
    }

    private static func asciiLower(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }
}

extension String {
    /// Without leading and trailing spaces and tabs (cameras pad values and line ends).
    var trimmedSDP: String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
              let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        return String(scalars[start...last])
    }
}
