#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import UringRelay

@Suite struct CIDRTests {
    static let accepted: [(String, String)] = [
        ("127.0.0.0/8", "127.0.0.0/8"),
        ("10.1.2.3", "10.1.2.3/32"),
        ("10.1.2.3/32", "10.1.2.3/32"),
        ("10.1.2.3/8", "10.0.0.0/8"),  // host bits cleared
        ("192.168.1.0/24", "192.168.1.0/24"),
        ("172.16.0.0/12", "172.16.0.0/12"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("::1/128", "::1/128"),
        ("::1", "::1/128"),
        ("::/0", "::/0"),
        ("fe80::/10", "fe80::/10"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:db8:ffff::1/33", "2001:db8:8000::/33"),
        (" 10.0.0.0/8 ", "10.0.0.0/8"),
    ]

    @Test(arguments: accepted)
    func parses(_ input: String, _ expected: String) throws {
        let c = try CIDR.parse(input)
        #expect(c.description == expected)
        #expect(try CIDR.parse(c.description) == c)
    }

    @Test func familyAndPrefix() throws {
        let v4 = try CIDR.parse("10.0.0.0/8")
        #expect(v4.family == AF_INET)
        #expect(v4.prefixLength == 8)
        let v6 = try CIDR.parse("::1")
        #expect(v6.family == AF_INET6)
        #expect(v6.prefixLength == 128)
    }

    static let rejected: [(String, CIDRParseError.Kind, String)] = [
        ("10.0.0.0/33", .badPrefixLength, "prefix length must be 0-32 for IPv4"),
        ("::/129", .badPrefixLength, "prefix length must be 0-128 for IPv6"),
        ("10.0.0.0/", .badPrefixLength, "prefix length"),
        ("10.0.0.0/-1", .badPrefixLength, "prefix length"),
        ("10.0.0.0/+8", .badPrefixLength, "prefix length"),
        ("10.0.0.0/abc", .badPrefixLength, "prefix length"),
        ("10.0.0.0/8/8", .badPrefixLength, "prefix length"),
        ("10.0.0.0/1000", .badPrefixLength, "prefix length"),
        ("", .badAddress, "not an IPv4 or IPv6 address"),
        ("/8", .badAddress, "not an IPv4 or IPv6 address"),
        ("nonsense/8", .badAddress, "not an IPv4 or IPv6 address"),
        ("1.2.3/8", .badAddress, "not an IPv4 or IPv6 address"),
        ("256.0.0.0/8", .badAddress, "not an IPv4 or IPv6 address"),
        ("[::1]/128", .badAddress, "not an IPv4 or IPv6 address"),
        ("localhost", .badAddress, "not an IPv4 or IPv6 address"),
    ]

    @Test(arguments: rejected)
    func rejects(_ input: String, _ kind: CIDRParseError.Kind, _ fragment: String) {
        do {
            let c = try CIDR.parse(input)
            Issue.record("parsed \(input) as \(c)")
        } catch {
            #expect(error.kind == kind)
            #expect(error.description.hasPrefix("invalid CIDR \"\(input)\": "))
            #expect(error.description.contains(fragment), "\(error)")
        }
    }

    static let membership: [(String, String, Bool)] = [
        ("127.0.0.0/8", "127.0.0.1:1", true),
        ("127.0.0.0/8", "127.255.255.255:1", true),
        ("127.0.0.0/8", "128.0.0.1:1", false),
        ("10.1.2.3", "10.1.2.3:80", true),
        ("10.1.2.3", "10.1.2.4:80", false),
        ("192.168.1.0/24", "192.168.1.200:5", true),
        ("192.168.1.0/24", "192.168.2.1:5", false),
        ("172.16.0.0/12", "172.31.255.1:5", true),
        ("172.16.0.0/12", "172.32.0.1:5", false),
        ("0.0.0.0/0", "8.8.8.8:53", true),
        ("0.0.0.0/0", "[::1]:53", false),
        // IPv4-mapped IPv6 peers match IPv4 networks.
        ("127.0.0.0/8", "[::ffff:127.0.0.1]:1", true),
        ("10.0.0.0/8", "[::ffff:10.9.9.9]:1", true),
        ("10.0.0.0/8", "[::ffff:11.0.0.1]:1", false),
        ("10.0.0.0/8", "[::10.0.0.1]:1", false),  // IPv4-compatible, not mapped
        ("::1/128", "[::1]:1", true),
        ("::1/128", "[::2]:1", false),
        ("::1/128", "127.0.0.1:1", false),  // IPv4 never matches an IPv6 network
        ("::/0", "[2001:db8::1]:1", true),
        ("::/0", "1.2.3.4:1", false),
        ("fe80::/10", "[febf::1]:1", true),
        ("fe80::/10", "[fec0::1]:1", false),
        ("fe80::/10", "[fe80::1%lo]:1", true),
        ("2001:db8::/32", "[2001:db8:1::1]:1", true),
        ("2001:db8::/32", "[2001:db9::1]:1", false),
        ("::ffff:0:0/96", "[::ffff:1.2.3.4]:1", true),
    ]

    @Test(arguments: membership)
    func contains(_ cidr: String, _ address: String, _ expected: Bool) throws {
        let c = try CIDR.parse(cidr)
        let a = try SocketAddress.parse(address)
        #expect(c.contains(a) == expected, "\(c) contains \(a)")
    }
}
