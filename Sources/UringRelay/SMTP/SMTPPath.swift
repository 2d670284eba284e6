/// A reverse-path or forward-path (RFC 5321 4.1.2): `<local@domain>`.
///
/// `localPart` is kept as written (a quoted local part keeps its quotes and backslashes) so it can
/// be forwarded verbatim; a source route (`<@a,@b:user@c>`) is dropped when parsing (RFC 5321 C).
/// `domain` is a domain or an address literal (`[192.0.2.1]`), or empty for the special
/// `<Postmaster>` recipient (RFC 5321 4.5.1).
public struct SMTPPath: Equatable, Sendable, CustomStringConvertible {
    /// Maximum reverse-path or forward-path length, angle brackets included (RFC 5321 4.5.3.1.3).
    public static let maximumLength = 256
    /// Maximum local-part length (RFC 5321 4.5.3.1.1).
    public static let maximumLocalPartLength = 64
    /// Maximum domain length (RFC 5321 4.5.3.1.2).
    public static let maximumDomainLength = 255

    public var localPart: String
    public var domain: String

    public init(localPart: String, domain: String) {
        self.localPart = localPart
        self.domain = domain
    }

    /// `local@domain` (or just the local part for `<Postmaster>`).
    public var address: String {
        domain.isEmpty ? localPart : "\(localPart)@\(domain)"
    }

    /// The `<...>` form to forward upstream.
    public var text: String { "<\(address)>" }

    public var description: String { text }

    /// True when the local part or domain has non-ASCII (UTF-8) characters: forwarding needs the
    /// SMTPUTF8 extension (RFC 6531).
    public var needsSMTPUTF8: Bool {
        localPart.utf8.contains(where: { $0 >= 0x80 }) || domain.utf8.contains(where: { $0 >= 0x80 })
    }

    /// True for the `<Postmaster>` recipient without a domain.
    public var isPostmaster: Bool { domain.isEmpty }
}
