/// One RTSP request or response (RFC 2326 §6, §7): start line, headers in arrival order, body.
///
/// Headers stay a list, not a dictionary: order and repeats matter (several WWW-Authenticate
/// challenges, several Transport alternatives) and a relay should forward what it was given.
public struct RTSPMessage: Sendable, Equatable {
    public enum StartLine: Equatable, Sendable {
        case request(method: String, uri: String)
        case response(status: Int, reason: String)
    }

    public var startLine: StartLine
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(request method: String, uri: String, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.startLine = .request(method: method, uri: uri)
        self.headers = headers.map { (name: $0.0, value: $0.1) }
        self.body = body
    }

    /// `reason` nil gives the standard phrase for `status` (RTSPStatus.reasonPhrase).
    public init(response status: Int, reason: String? = nil, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.startLine = .response(status: status, reason: reason ?? RTSPStatus.reasonPhrase(status))
        self.headers = headers.map { (name: $0.0, value: $0.1) }
        self.body = body
    }

    /// The value of the first header called `name`, compared case-insensitively
    /// (RFC 2326 §4.2: field names are case-insensitive; cameras send `Cseq`, `CSEQ`, …).
    public func header(_ name: String) -> String? {
        for h in headers where Self.sameName(h.name, name) { return h.value }
        return nil
    }

    /// Every value of the headers called `name`, in order (e.g. several WWW-Authenticate).
    public func headerValues(_ name: String) -> [String] {
        headers.filter { Self.sameName($0.name, name) }.map(\.value)
    }

    /// Replaces the first header called `name` (dropping any later repeats, so the message
    /// carries one value), or appends it when absent.
    public mutating func setHeader(_ name: String, _ value: String) {
        if let i = headers.firstIndex(where: { Self.sameName($0.name, name) }) {
            headers[i].value = value
            var j = headers.count - 1
            while j > i {
                if Self.sameName(headers[j].name, name) { headers.remove(at: j) }
                j -= 1
            }
        } else {
            headers.append((name: name, value: value))
        }
    }

    /// Removes every header called `name`.
    public mutating func removeHeader(_ name: String) {
        headers.removeAll { Self.sameName($0.name, name) }
    }

    public var cseq: String? { header("CSeq") }

    public var method: String? {
        if case .request(let m, _) = startLine { return m }
        return nil
    }

    public var uri: String? {
        if case .request(_, let u) = startLine { return u }
        return nil
    }

    public var status: Int? {
        if case .response(let s, _) = startLine { return s }
        return nil
    }

    /// Wire form: `RTSP/1.0` start line, `Name: value` headers, CRLF line ends, a
    /// Content-Length when there is a body and none was set, the blank line, the body.
    /// CR and LF inside names, values, method, URI or reason become spaces: one stray line
    /// end would let a value smuggle in headers or end the message early.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + headers.count * 32 + body.count)
        switch startLine {
        case .request(let method, let uri):
            Self.appendClean(method, to: &out)
            out.append(0x20)
            Self.appendClean(uri, to: &out)
            out.append(contentsOf: " RTSP/1.0\r\n".utf8)
        case .response(let status, let reason):
            out.append(contentsOf: "RTSP/1.0 ".utf8)
            // Always three digits on the wire; a code outside 100…999 is a caller bug, not a reply.
            let code = min(max(status, 100), 999)
            out.append(contentsOf: String(code).utf8)
            out.append(0x20)
            Self.appendClean(reason, to: &out)
            out.append(contentsOf: "\r\n".utf8)
        }
        for h in headers {
            Self.appendClean(h.name, to: &out)
            out.append(contentsOf: ": ".utf8)
            Self.appendClean(h.value, to: &out)
            out.append(contentsOf: "\r\n".utf8)
        }
        if !body.isEmpty && header("Content-Length") == nil {
            out.append(contentsOf: "Content-Length: \(body.count)\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
        out.append(contentsOf: body)
        return out
    }

    public static func == (a: RTSPMessage, b: RTSPMessage) -> Bool {
        guard a.startLine == b.startLine, a.body == b.body, a.headers.count == b.headers.count else { return false }
        for (x, y) in zip(a.headers, b.headers) where x.name != y.name || x.value != y.value { return false }
        return true
    }

    /// ASCII case-insensitive comparison; header names are ASCII tokens, so no Unicode folding.
    static func sameName(_ a: String, _ b: String) -> Bool {
        let x = a.utf8, y = b.utf8
        guard x.count == y.count else { return false }
        for (p, q) in zip(x, y) where asciiLower(p) != asciiLower(q) { return false }
        return true
    }

    static func asciiLower(_ c: UInt8) -> UInt8 { (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c }

    static func appendClean(_ s: String, to out: inout [UInt8]) {
        for c in s.utf8 { out.append(c == 0x0D || c == 0x0A ? 0x20 : c) }
    }
}
