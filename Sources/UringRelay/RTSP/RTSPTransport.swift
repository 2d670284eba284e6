/// One transport spec of a Transport header (RFC 2326 §12.39):
/// `RTP/AVP[/TCP|/UDP];unicast|multicast;parameter=value;…`.
///
/// Parsing is tolerant because cameras are: parameters in any order (the profile need not come
/// first), spaces around `;` and `=`, quoted values (`mode="PLAY"`), single ports, ssrc with
/// spaces or odd hex lengths. A parameter whose value cannot be read is dropped rather than
/// failing the whole spec, so one sloppy field does not cost the stream.
public struct RTSPTransport: Equatable, Sendable {
    public enum LowerTransport: Equatable, Sendable { case udp, tcp }

    /// As given: "RTP/AVP", "RTP/AVP/TCP", "RTP/AVP/UDP". Setting it updates `lowerTransport`.
    public var profile: String {
        didSet {
            let tcp = Self.profileIsTCP(profile)
            if tcp != (lowerTransport == .tcp) { lowerTransport = tcp ? .tcp : .udp }
        }
    }
    /// TCP iff the profile ends in /TCP. Setting it rewrites a profile that disagrees, so the
    /// serialized header says what the field says.
    public var lowerTransport: LowerTransport {
        didSet {
            let tcp = lowerTransport == .tcp
            if tcp != Self.profileIsTCP(profile) { profile = tcp ? "RTP/AVP/TCP" : "RTP/AVP" }
        }
    }
    /// true for `unicast`, false for `multicast`, nil when neither was given.
    public var unicast: Bool?
    public var interleaved: RTSPPortPair?
    public var clientPort: RTSPPortPair?
    public var serverPort: RTSPPortPair?
    public var ssrc: UInt32?
    /// Unquoted and uppercased: "PLAY", "RECORD".
    public var mode: String?
    public var destination: String?
    /// nil when absent or empty (`source=`).
    public var source: String?
    public var ttl: Int?
    /// Parameters this type does not model (`append`, `port=…`, `layers=…`), as given, so a
    /// relay can pass them on.
    public var otherParameters: [String]

    public init(profile: String = "RTP/AVP", unicast: Bool? = true, interleaved: RTSPPortPair? = nil,
                clientPort: RTSPPortPair? = nil, serverPort: RTSPPortPair? = nil, ssrc: UInt32? = nil,
                mode: String? = nil, destination: String? = nil, source: String? = nil, ttl: Int? = nil,
                otherParameters: [String] = []) {
        self.profile = profile
        self.lowerTransport = Self.profileIsTCP(profile) ? .tcp : .udp
        self.unicast = unicast
        self.interleaved = interleaved
        self.clientPort = clientPort
        self.serverPort = serverPort
        self.ssrc = ssrc
        self.mode = mode.map { $0.uppercased() }
        self.destination = destination
        self.source = source
        self.ttl = ttl
        self.otherParameters = otherParameters
    }

    /// Every spec of a Transport header value (alternatives are separated by commas outside
    /// quotes), skipping those that cannot be parsed.
    public static func parseList(_ headerValue: String) -> [RTSPTransport] {
        split(headerValue, on: ",").compactMap { parse(String($0)) }
    }

    /// One spec; nil when it has no transport/profile token (the first flag with a '/', `RTP/AVP…`).
    public static func parse(_ spec: String) -> RTSPTransport? {
        var t = RTSPTransport(profile: "RTP/AVP", unicast: nil)
        var sawProfile = false
        for rawPart in split(spec, on: ";") {
            let part = trim(rawPart)
            if part.isEmpty { continue }
            guard let eq = part.firstIndex(of: "=") else {
                let flag = part.lowercased()
                if flag == "unicast" {
                    t.unicast = true
                } else if flag == "multicast" {
                    t.unicast = false
                } else if !sawProfile && part.contains("/") {
                    t.profile = part
                    sawProfile = true
                } else {
                    t.otherParameters.append(part)
                }
                continue
            }
            let key = trim(part[..<eq]).lowercased()
            let value = unquote(trim(part[part.index(after: eq)...]))
            switch key {
            case "interleaved": t.interleaved = RTSPPortPair.parse(value, maximum: 255)
            case "client_port": t.clientPort = RTSPPortPair.parse(value, maximum: 65535)
            case "server_port": t.serverPort = RTSPPortPair.parse(value, maximum: 65535)
            case "ssrc": t.ssrc = parseSSRC(value)
            case "mode": t.mode = value.isEmpty ? nil : value.uppercased()
            case "destination": t.destination = value.isEmpty ? nil : value
            case "source": t.source = value.isEmpty ? nil : value
            case "ttl": t.ttl = RTSPPortPair.number(value, maximum: 255)
            default: t.otherParameters.append(part)
            }
        }
        return sawProfile ? t : nil
    }

    /// `profile;unicast|multicast;destination=;source=;client_port=;server_port=;interleaved=;`
    /// `ttl=;ssrc=XXXXXXXX;mode=;others…`, nil fields left out. The order is fixed so replies
    /// are reproducible and tests can compare strings.
    public func serialized() -> String {
        var parts = [profile]
        if let unicast { parts.append(unicast ? "unicast" : "multicast") }
        if let destination { parts.append("destination=\(destination)") }
        if let source { parts.append("source=\(source)") }
        if let clientPort { parts.append("client_port=\(clientPort.serialized)") }
        if let serverPort { parts.append("server_port=\(serverPort.serialized)") }
        if let interleaved { parts.append("interleaved=\(interleaved.serialized)") }
        if let ttl { parts.append("ttl=\(ttl)") }
        if let ssrc { parts.append("ssrc=\(Self.hex8(ssrc))") }
        if let mode { parts.append("mode=\(mode)") }
        parts += otherParameters
        return parts.joined(separator: ";")
    }

    /// RFC 2326 says ssrc is 8 hex digits; cameras send fewer (odd lengths too) and pad with
    /// spaces. Decimal values are not recognisable as such: a value is taken as hex when it is
    /// 1…8 hex digits, otherwise ignored (so `1449463210`, ten digits, gives nil).
    static func parseSSRC(_ value: String) -> UInt32? {
        let v = trim(value)
        guard !v.isEmpty, v.utf8.count <= 8 else { return nil }
        return UInt32(v, radix: 16)
    }

    static func profileIsTCP(_ profile: String) -> Bool {
        profile.uppercased().hasSuffix("/TCP")
    }

    static func hex8(_ v: UInt32) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for shift in stride(from: 28, through: 0, by: -4) { out.append(digits[Int((v >> UInt32(shift)) & 0xF)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Splits on `separator` outside double quotes (a quoted mode list may hold commas).
    static func split(_ s: String, on separator: Character) -> [Substring] {
        var parts: [Substring] = []
        var start = s.startIndex
        var quoted = false
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if c == "\"" {
                quoted.toggle()
            } else if c == separator && !quoted {
                parts.append(s[start..<i])
                start = s.index(after: i)
            }
            i = s.index(after: i)
        }
        parts.append(s[start...])
        return parts
    }

    static func trim(_ s: some StringProtocol) -> String {
        var u = Substring(s).utf8
        while let f = u.first, f == 0x20 || f == 0x09 { u = u.dropFirst() }
        while let l = u.last, l == 0x20 || l == 0x09 { u = u.dropLast() }
        return String(Substring(u))
    }

    static func unquote(_ s: String) -> String {
        guard s.utf8.count >= 2, s.hasPrefix("\""), s.hasSuffix("\"") else { return s }
        return trim(s.dropFirst().dropLast())
    }
}
