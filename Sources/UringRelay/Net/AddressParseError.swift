/// Why a "HOST:PORT" string could not be turned into a `SocketAddress`.
/// Description is one line that quotes the input: `invalid address "::1:80": IPv6 addresses need brackets: [::1]:PORT`.
public struct AddressParseError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// No ":PORT" part, or nothing after the colon.
        case missingPort
        /// The port is not a decimal number in 0...65535.
        case badPort
        /// An IPv6 literal without brackets ("::1:9000").
        case unbracketedIPv6
        /// Empty host (":9000", "[]:9000").
        case missingHost
        /// The host looks numeric (dotted digits, bracketed IPv6, zone) but is not a valid address,
        /// or the text is malformed ("[::1]9000").
        case badHost
        /// getaddrinfo found no IPv4/IPv6 address for the name.
        case unresolvable
    }

    public let input: String
    public let kind: Kind
    /// The human explanation, e.g. "port must be 0-65535".
    public let detail: String

    public init(input: String, kind: Kind, detail: String) {
        self.input = input
        self.kind = kind
        self.detail = detail
    }

    public var description: String {
        "invalid address \"\(input)\": \(detail)"
    }
}
