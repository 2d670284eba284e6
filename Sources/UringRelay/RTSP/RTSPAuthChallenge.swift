/// One challenge of a WWW-Authenticate header (RFC 7235 §4.1, RFC 2617 §3.2.1):
/// an auth scheme and its `name=value` parameters.
public struct RTSPAuthChallenge: Equatable, Sendable {
    /// Lowercased: "digest", "basic", …
    public var scheme: String
    /// Names lowercased, values unquoted and unescaped, in order.
    public var parameters: [(name: String, value: String)]

    public init(scheme: String, parameters: [(name: String, value: String)] = []) {
        self.scheme = scheme.lowercased()
        self.parameters = parameters.map { (name: $0.name.lowercased(), value: $0.value) }
    }

    public func parameter(_ name: String) -> String? {
        let n = name.lowercased()
        return parameters.first { $0.name == n }?.value
    }

    public static func == (a: RTSPAuthChallenge, b: RTSPAuthChallenge) -> Bool {
        a.scheme == b.scheme && a.parameters.count == b.parameters.count
            && zip(a.parameters, b.parameters).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    /// Every challenge in one header value. A header may hold several
    /// (`Digest realm="r", nonce="n", Basic realm="r"`): a token not followed by '=' starts
    /// a new challenge, `name=value` pairs belong to the one before. Quoted values may hold
    /// commas and backslash-escaped quotes; unquoted values run to the next comma. Scheme and
    /// parameter names are case-insensitive. Parameters before any scheme are dropped.
    public static func parseAll(_ value: String) -> [RTSPAuthChallenge] {
        let b = Array(value.utf8)
        var i = 0
        var challenges: [RTSPAuthChallenge] = []
        func skipSpace() { while i < b.count && (b[i] == 0x20 || b[i] == 0x09) { i += 1 } }
        while true {
            while i < b.count && (b[i] == 0x20 || b[i] == 0x09 || b[i] == comma) { i += 1 }
            guard i < b.count else { break }
            let tokenStart = i
            while i < b.count && b[i] != 0x20 && b[i] != 0x09 && b[i] != comma && b[i] != equals && b[i] != quote { i += 1 }
            let token = String(decoding: b[tokenStart..<i], as: UTF8.self)
            skipSpace()
            if i < b.count && b[i] == equals {
                i += 1
                skipSpace()
                var raw: [UInt8] = []
                if i < b.count && b[i] == quote {
                    i += 1
                    while i < b.count && b[i] != quote {
                        if b[i] == backslash && i + 1 < b.count { i += 1 }
                        raw.append(b[i])
                        i += 1
                    }
                    i += 1  // the closing quote (or past the end when it is missing)
                } else {
                    while i < b.count && b[i] != comma { raw.append(b[i]); i += 1 }
                    while let l = raw.last, l == 0x20 || l == 0x09 { raw.removeLast() }
                }
                if !token.isEmpty && !challenges.isEmpty {
                    challenges[challenges.count - 1].parameters.append(
                        (name: token.lowercased(), value: String(decoding: raw, as: UTF8.self)))
                }
            } else if !token.isEmpty {
                challenges.append(RTSPAuthChallenge(scheme: token))
            } else {
                i += 1  // a stray quote: step over it
            }
        }
        return challenges
    }

    static let comma = UInt8(ascii: ",")
    static let equals = UInt8(ascii: "=")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
}
