/// ESMTP parameters of MAIL FROM that the relay understands: SIZE (RFC 1870), BODY (RFC 6152,
/// RFC 3030), SMTPUTF8 (RFC 6531). `raw` keeps every parameter as written, in order, to forward
/// verbatim.
public struct MailParameters: Equatable, Sendable {
    public enum BodyType: String, Equatable, Sendable, CaseIterable {
        case sevenBit = "7BIT"
        case eightBitMIME = "8BITMIME"
        case binaryMIME = "BINARYMIME"
    }

    /// SIZE=n as declared; values beyond Int.max are clamped to Int.max (still over any limit).
    public var size: Int?
    public var body: BodyType?
    public var smtputf8: Bool
    /// (keyword, value) as written by the client.
    public var raw: [(String, String?)]

    public init(size: Int? = nil, body: BodyType? = nil, smtputf8: Bool = false, raw: [(String, String?)] = []) {
        self.size = size
        self.body = body
        self.smtputf8 = smtputf8
        self.raw = raw
    }

    /// The parameters as they go after the path: `SIZE=1000 BODY=8BITMIME` (empty when none).
    public var text: String {
        raw.map { k, v in v.map { "\(k)=\($0)" } ?? k }.joined(separator: " ")
    }

    public static func == (a: MailParameters, b: MailParameters) -> Bool {
        a.size == b.size && a.body == b.body && a.smtputf8 == b.smtputf8
            && a.raw.count == b.raw.count
            && zip(a.raw, b.raw).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}
