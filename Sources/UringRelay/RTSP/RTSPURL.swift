/// An `rtsp://` (or `rtsps://`) URL as cameras and their users write them
/// (RFC 2326 §3.2, with the credential habits of real configuration strings).
///
/// Credentials in a URL are routinely not percent-encoded (`admin:pa#ss@…`, `test@123@…`), so
/// the authority is not split the RFC 3986 way; see `parse` for the exact rule. User and
/// password are percent-decoded; `requestURI` never carries them (they go in Authorization).
public struct RTSPURL: Equatable, Sendable {
    public static let defaultPort = 554
    public static let defaultSecurePort = 322

    /// Lowercased: "rtsp" or "rtsps".
    public var scheme: String
    /// Percent-decoded; nil when the URL has no userinfo.
    public var user: String?
    /// Percent-decoded; nil when the userinfo has no ':'.
    public var password: String?
    /// Without brackets for IPv6.
    public var host: String
    public var port: Int
    /// True when the URL spelled the port out; requestURI then repeats it.
    public var explicitPort: Bool
    /// Starts with "/"; "/" when the URL has none. Not decoded: it is sent as given.
    public var path: String
    /// After '?', without it; nil when there is no '?'.
    public var query: String?

    /// rtsps:// is recognised so callers can refuse it clearly (no TLS here) instead of
    /// failing to parse it.
    public var isSecure: Bool { scheme == "rtsps" }

    public init(scheme: String = "rtsp", user: String? = nil, password: String? = nil, host: String, port: Int? = nil,
                path: String = "/", query: String? = nil) {
        self.scheme = scheme.lowercased()
        self.user = user
        self.password = password
        self.host = host
        self.port = port ?? (scheme.lowercased() == "rtsps" ? Self.defaultSecurePort : Self.defaultPort)
        self.explicitPort = port != nil
        self.path = path.hasPrefix("/") ? path : "/" + path
        self.query = query
    }

    /// Parses `scheme://[userinfo@]host[:port][/path][?query]`; nil for other schemes, an
    /// empty or malformed host, a port outside 1…65535, or spaces/control bytes outside the
    /// userinfo (they cannot go in a request line).
    ///
    /// Where the userinfo ends, with A = the text after "//" up to its first '/' or '?':
    ///  1. A contains '@': the userinfo is A up to its LAST '@' (so '@', ':', '#' may appear
    ///     unencoded in the password: `admin:test@123@host`, `admin:pa#ss@host`), and an '@'
    ///     later in the path or query stays part of them.
    ///  2. A has no '@' but the rest of the URL does, and A is not a valid host[:port]: the
    ///     '/' or '?' was inside the password (`user:pa/ss@host/live`), so the userinfo runs
    ///     to the last '@' of the whole URL and the authority to the next '/' or '?'.
    ///  3. Otherwise there is no userinfo (`rtsp://host/live@2` keeps the '@' in the path).
    public static func parse(_ string: String) -> RTSPURL? {
        let b = Array(string.utf8)
        guard let sep = find(b, Array("://".utf8)) else { return nil }
        let scheme = String(decoding: b[0..<sep], as: UTF8.self).lowercased()
        guard scheme == "rtsp" || scheme == "rtsps" else { return nil }
        let rest = Array(b[(sep + 3)...])

        func delimiter(from: Int) -> Int {
            var i = from
            while i < rest.count && rest[i] != slash && rest[i] != question { i += 1 }
            return i
        }
        let firstDelimiter = delimiter(from: 0)
        var userinfo: ArraySlice<UInt8>? = nil
        var hostStart = 0
        var authorityEnd = firstDelimiter
        if let at = rest[0..<firstDelimiter].lastIndex(of: atSign) {
            userinfo = rest[0..<at]
            hostStart = at + 1
        } else if let at = rest.lastIndex(of: atSign), hostAndPort(rest[0..<firstDelimiter], scheme: scheme) == nil {
            userinfo = rest[0..<at]
            hostStart = at + 1
            authorityEnd = delimiter(from: hostStart)
        }

        guard let authority = hostAndPort(rest[hostStart..<authorityEnd], scheme: scheme) else { return nil }
        let (host, port, explicit) = authority
        let tail = rest[authorityEnd...]
        guard !tail.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else { return nil }
        var path = "/"
        var query: String? = nil
        if let q = tail.firstIndex(of: question) {
            if q > tail.startIndex { path = String(decoding: tail[..<q], as: UTF8.self) }
            query = String(decoding: tail[(q + 1)...], as: UTF8.self)
        } else if !tail.isEmpty {
            path = String(decoding: tail, as: UTF8.self)
        }

        var url = RTSPURL(scheme: scheme, host: host, port: port, path: path, query: query)
        url.explicitPort = explicit
        if let userinfo {
            if let colon = userinfo.firstIndex(of: colonSign) {
                url.user = percentDecoded(userinfo[..<colon])
                url.password = percentDecoded(userinfo[(colon + 1)...])
            } else {
                url.user = percentDecoded(userinfo)
            }
        }
        return url
    }

    /// `scheme://host[:port]path[?query]`: what goes in a request line and Content-Base
    /// comparisons. Never the userinfo; IPv6 hosts in brackets; the port only when explicit.
    public var requestURI: String {
        var s = scheme + "://" + (host.contains(":") ? "[" + host + "]" : host)
        if explicitPort { s += ":\(port)" }
        s += path
        if let query { s += "?" + query }
        return s
    }

    /// The URL of a media whose SDP says `a=control:control`, with this URL as the base
    /// (Content-Base, else the DESCRIBE URL). Cameras expect the control appended, not
    /// RFC 3986 resolution (which would turn `/tcp/av0_0` + `track0` into `/tcp/track0`):
    /// an absolute control is used as is; `*` or empty means the base itself; otherwise
    /// requestURI + "/" + control, with no "/" added when the base already ends with one or
    /// the control starts with "?" or "/" (so never a double slash). A query in the base stays
    /// where it is (`live?token=69154` + `trackID=0` → `live?token=69154/trackID=0`), as
    /// those cameras want.
    public func resolving(control: String) -> String {
        let c = RTSPTransport.trim(control)
        let lower = c.lowercased()
        if lower.hasPrefix("rtsp://") || lower.hasPrefix("rtsps://") { return c }
        let base = requestURI
        if c.isEmpty || c == "*" { return base }
        if base.hasSuffix("/") && c.hasPrefix("/") { return base + c.dropFirst() }
        if base.hasSuffix("/") || c.hasPrefix("?") || c.hasPrefix("/") { return base + c }
        return base + "/" + c
    }

    /// For a server: the stream path and track a request URI names. Accepts an absolute
    /// `rtsp://host[:port]/path[/track]` (userinfo ignored), a bare `/path[/track]`, or `*`
    /// (path ""). The path comes back without leading, trailing or doubled slashes
    /// ("cam", "site/cam1"); the last segment is a track when it is `trackID=N`, `track=N`,
    /// `trackN` (what this server and most cameras put in a=control) or `streamid=N` (what
    /// ffmpeg announces). Any query is ignored. nil for anything else.
    public static func pathAndTrack(ofRequestURI uri: String) -> (path: String, track: Int?)? {
        let raw: String
        if uri == "*" {
            return (path: "", track: nil)
        } else if uri.hasPrefix("/") {
            raw = String(uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
        } else if let url = parse(uri) {
            raw = url.path
        } else {
            return nil
        }
        var segments = raw.split(separator: "/", omittingEmptySubsequences: true)
        var track: Int? = nil
        if let last = segments.last, let n = trackNumber(last) {
            track = n
            segments.removeLast()
        }
        return (path: segments.joined(separator: "/"), track: track)
    }

    static func trackNumber(_ segment: Substring) -> Int? {
        let s = segment.lowercased()
        for prefix in ["trackid=", "track=", "streamid=", "track"] where s.hasPrefix(prefix) {
            let digits = s.dropFirst(prefix.count)
            guard !digits.isEmpty, digits.count <= 4, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return Int(digits)
        }
        return nil
    }

    static let slash = UInt8(ascii: "/")
    static let question = UInt8(ascii: "?")
    static let atSign = UInt8(ascii: "@")
    static let colonSign = UInt8(ascii: ":")

    /// `host`, `host:port`, `[v6]` or `[v6]:port`; `host:` counts as no port.
    static func hostAndPort(_ a: ArraySlice<UInt8>, scheme: String) -> (String, Int, Bool)? {
        var hostBytes: ArraySlice<UInt8>
        var portBytes: ArraySlice<UInt8> = []
        if a.first == UInt8(ascii: "[") {
            guard let close = a.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            hostBytes = a[(a.startIndex + 1)..<close]
            let after = a[(close + 1)...]
            if let f = after.first {
                guard f == colonSign else { return nil }
                portBytes = after.dropFirst()
            }
            guard hostBytes.contains(colonSign) else { return nil }
        } else {
            let colons = a.filter { $0 == colonSign }.count
            guard colons <= 1 else { return nil }  // an IPv6 address needs brackets
            if let c = a.firstIndex(of: colonSign) {
                hostBytes = a[..<c]
                portBytes = a[(c + 1)...]
            } else {
                hostBytes = a
            }
        }
        guard !hostBytes.isEmpty,
              !hostBytes.contains(where: { $0 <= 0x20 || $0 == 0x7F || $0 == atSign || $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "]") })
        else { return nil }
        let host = String(decoding: hostBytes, as: UTF8.self)
        let defaultPort = scheme == "rtsps" ? defaultSecurePort : Self.defaultPort
        if portBytes.isEmpty { return (host, defaultPort, false) }
        guard portBytes.count <= 5, portBytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let port = Int(String(decoding: portBytes, as: UTF8.self)), (1...65535).contains(port) else { return nil }
        return (host, port, true)
    }

    /// %XX → byte; a '%' not followed by two hex digits stays literal (hand-typed passwords).
    static func percentDecoded(_ s: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == UInt8(ascii: "%"), i + 2 < s.endIndex,
               let hi = hexValue(s[i + 1]), let lo = hexValue(s[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    static func find(_ b: [UInt8], _ needle: [UInt8]) -> Int? {
        guard b.count >= needle.count else { return nil }
        for i in 0...(b.count - needle.count) where b[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}
