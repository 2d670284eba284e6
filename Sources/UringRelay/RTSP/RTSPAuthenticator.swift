/// Client-side authentication towards cameras: answers a 401's WWW-Authenticate with Basic
/// (RFC 7617) or Digest with MD5 (RFC 2617, RFC 7616's MD5 and MD5-sess), and tells the
/// caller when retrying is pointless.
///
/// Use: send without Authorization; on 401 call `handle401`; if it returns true, send the
/// request again with `authorization(method:uri:)`, and keep adding that header to later
/// requests (cameras check every one).
public struct RTSPAuthenticator: Sendable {
    public let user: String
    public let password: String

    /// Fixed client nonce (tests, reproducible logs); nil picks a random one per challenge.
    let fixedCnonce: String?

    struct Digest: Equatable, Sendable {
        var realm: String
        var nonce: String
        var opaque: String?
        /// As the server spelled it, echoed back; nil when it gave none.
        var algorithm: String?
        var session: Bool
        var qopAuth: Bool
    }

    enum Scheme: Equatable, Sendable {
        case basic(realm: String?)
        case digest(Digest)
    }

    var scheme: Scheme?
    /// Requests answered with the current challenge. A 401 after exactly one of them (the
    /// retry) means the credentials were refused, whatever nonce comes with it.
    var requestsSinceChallenge = 0
    /// Digest nc: requests sent with the current nonce.
    var nonceCount: UInt32 = 0
    var cnonce = ""

    public init(user: String, password: String, cnonce: String? = nil) {
        self.user = user
        self.password = password
        self.fixedCnonce = cnonce
    }

    /// True once a challenge has been accepted.
    public var hasChallenge: Bool { scheme != nil }

    /// Reads every WWW-Authenticate challenge in `response` and picks one: the first usable
    /// Digest (MD5 or MD5-sess, qop absent or offering `auth`), else Basic. Returns false —
    /// stop retrying — when none is usable, or when the previous challenge has been answered
    /// and the server refuses again: with an identical challenge (even if marked stale;
    /// nothing would change), or, unless `stale=true`, right after the first answer to it
    /// (RFC 7616 §3.3: without stale the credentials themselves were rejected; checking
    /// this too stops cameras that hand out a fresh nonce with every 401 from looping).
    public mutating func handle401(_ response: RTSPMessage) -> Bool {
        var challenges: [RTSPAuthChallenge] = []
        for value in response.headerValues("WWW-Authenticate") { challenges += RTSPAuthChallenge.parseAll(value) }
        var chosen: Scheme? = nil
        var stale = false
        for c in challenges where c.scheme == "digest" {
            if let d = Self.usableDigest(c) {
                chosen = .digest(d)
                stale = c.parameter("stale")?.lowercased() == "true"
                break
            }
        }
        if chosen == nil, let basic = challenges.first(where: { $0.scheme == "basic" }) {
            chosen = .basic(realm: basic.parameter("realm"))
        }
        guard let chosen else { return false }
        if scheme != nil && requestsSinceChallenge > 0 {
            if chosen == scheme { return false }
            if !stale && requestsSinceChallenge == 1 { return false }
        }
        scheme = chosen
        requestsSinceChallenge = 0
        nonceCount = 0
        cnonce = fixedCnonce ?? Self.randomCnonce()
        return true
    }

    /// The Authorization value for a request, nil before any challenge. Each call counts as
    /// one request sent (Digest nc goes up by one).
    public mutating func authorization(method: String, uri: String) -> String? {
        guard let scheme else { return nil }
        requestsSinceChallenge += 1
        switch scheme {
        case .basic:
            return "Basic " + Base64.encode(user + ":" + password)
        case .digest(let d):
            nonceCount &+= 1
            var ha1 = MD5.hex("\(user):\(d.realm):\(password)")
            if d.session { ha1 = MD5.hex("\(ha1):\(d.nonce):\(cnonce)") }
            let ha2 = MD5.hex("\(method):\(uri)")
            let nc = Self.hex8(nonceCount)
            let response = d.qopAuth
                ? MD5.hex("\(ha1):\(d.nonce):\(nc):\(cnonce):auth:\(ha2)")
                : MD5.hex("\(ha1):\(d.nonce):\(ha2)")
            var s = "Digest username=\(Self.quoted(user)), realm=\(Self.quoted(d.realm)), nonce=\(Self.quoted(d.nonce))"
            s += ", uri=\(Self.quoted(uri)), response=\"\(response)\""
            if let opaque = d.opaque { s += ", opaque=\(Self.quoted(opaque))" }
            if let algorithm = d.algorithm { s += ", algorithm=\(algorithm)" }
            if d.qopAuth { s += ", qop=auth, nc=\(nc), cnonce=\(Self.quoted(cnonce))" }
            return s
        }
    }

    /// A Digest challenge this client can answer: a nonce, MD5 or MD5-sess (no SHA-256 here),
    /// and if qop is offered, `auth` among it (auth-int would need the body hashed; MD5-sess
    /// needs the cnonce that only qop carries).
    static func usableDigest(_ c: RTSPAuthChallenge) -> Digest? {
        guard let nonce = c.parameter("nonce") else { return nil }
        let algorithm = c.parameter("algorithm")
        let alg = algorithm?.lowercased() ?? "md5"
        guard alg == "md5" || alg == "md5-sess" else { return nil }
        var qopAuth = false
        if let qop = c.parameter("qop") {
            let offered = qop.split(separator: ",").map { RTSPTransport.trim($0).lowercased() }
            guard offered.contains("auth") else { return nil }
            qopAuth = true
        }
        if alg == "md5-sess" && !qopAuth { return nil }
        return Digest(realm: c.parameter("realm") ?? "", nonce: nonce, opaque: c.parameter("opaque"),
                      algorithm: algorithm, session: alg == "md5-sess", qopAuth: qopAuth)
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }

    static func hex8(_ v: UInt32) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for shift in stride(from: 28, through: 0, by: -4) { out.append(digits[Int((v >> UInt32(shift)) & 0xF)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// 64 random bits as 16 hex digits: RFC 7616 only asks that the cnonce be unpredictable.
    static func randomCnonce() -> String {
        var g = SystemRandomNumberGenerator()
        let v = g.next() as UInt64
        return hex8(UInt32(truncatingIfNeeded: v >> 32)) + hex8(UInt32(truncatingIfNeeded: v))
    }
}
