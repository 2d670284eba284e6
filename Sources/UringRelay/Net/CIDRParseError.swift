/// Why a CIDR string ("10.0.0.0/8", "::1/128") could not be parsed.
/// Description is one line that quotes the input: `invalid CIDR "10.0.0.0/33": prefix length must be 0-32 for IPv4`.
public struct CIDRParseError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case badAddress
        case badPrefixLength
    }

    public let input: String
    public let kind: Kind
    public let detail: String

    public init(input: String, kind: Kind, detail: String) {
        self.input = input
        self.kind = kind
        self.detail = detail
    }

    public var description: String {
        "invalid CIDR \"\(input)\": \(detail)"
    }
}
