#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import UringRelay

@Suite struct SocketAddressTests {
    struct Accepted: Sendable, CustomStringConvertible {
        let input: String
        let family: Int32
        let port: UInt16
        let text: String  // expected description
        var description: String { input }
    }

    static let accepted: [Accepted] = [
        .init(input: "127.0.0.1:9000", family: AF_INET, port: 9000, text: "127.0.0.1:9000"),
        .init(input: "10.1.2.3:80", family: AF_INET, port: 80, text: "10.1.2.3:80"),
        .init(input: "127.0.0.1:0", family: AF_INET, port: 0, text: "127.0.0.1:0"),
        .init(input: "127.0.0.1:65535", family: AF_INET, port: 65535, text: "127.0.0.1:65535"),
        .init(input: "127.0.0.1:00080", family: AF_INET, port: 80, text: "127.0.0.1:80"),
        .init(input: " 127.0.0.1:9000 ", family: AF_INET, port: 9000, text: "127.0.0.1:9000"),
        .init(input: "[::1]:9000", family: AF_INET6, port: 9000, text: "[::1]:9000"),
        .init(input: "[2001:db8::a:b]:443", family: AF_INET6, port: 443, text: "[2001:db8::a:b]:443"),
        .init(input: "[::ffff:10.0.0.1]:25", family: AF_INET6, port: 25, text: "[::ffff:10.0.0.1]:25"),
        .init(input: "[fe80::1%lo]:9000", family: AF_INET6, port: 9000, text: "[fe80::1%lo]:9000"),
        .init(input: "localhost:9000", family: AF_INET, port: 9000, text: "127.0.0.1:9000"),
        .init(input: "*:9000", family: AF_INET, port: 9000, text: "0.0.0.0:9000"),
        .init(input: "0.0.0.0:9000", family: AF_INET, port: 9000, text: "0.0.0.0:9000"),
        .init(input: "[::]:9000", family: AF_INET6, port: 9000, text: "[::]:9000"),
    ]

    @Test(arguments: accepted)
    func parsesAcceptedForms(_ c: Accepted) throws {
        let a = try SocketAddress.parse(c.input)
        #expect(a.family == c.family)
        #expect(a.port == c.port)
        #expect(a.description == c.text)
        #expect("\(a)" == c.text)
        let expectedLength = c.family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size
        #expect(Int(a.length) == expectedLength)
        // Round trip through the description.
        #expect(try SocketAddress.parse(a.description) == a)
    }

    @Test func scopeByIndexIsTheSameAsByName() throws {
        let idx = if_nametoindex("lo")
        try #require(idx != 0)
        let byName = try SocketAddress.parse("[fe80::1%lo]:1")
        let byIndex = try SocketAddress.parse("[fe80::1%\(idx)]:1")
        #expect(byName == byIndex)
        #expect(byName.scopeID == idx)
        #expect(byName.ipString == "fe80::1%lo")
    }

    struct Rejected: Sendable, CustomStringConvertible {
        let input: String
        let kind: AddressParseError.Kind
        let fragment: String  // must appear in the message
        var description: String { input }
    }

    static let rejected: [Rejected] = [
        .init(input: "127.0.0.1", kind: .missingPort, fragment: "missing port"),
        .init(input: "127.0.0.1:", kind: .missingPort, fragment: "missing port"),
        .init(input: "localhost", kind: .missingPort, fragment: "missing port"),
        .init(input: "[::1]", kind: .missingPort, fragment: "missing port"),
        .init(input: "[::1]:", kind: .missingPort, fragment: "missing port"),
        .init(input: "", kind: .missingPort, fragment: "missing port"),
        .init(input: "127.0.0.1:65536", kind: .badPort, fragment: "port must be 0-65535"),
        .init(input: "127.0.0.1:99999999999999999999", kind: .badPort, fragment: "port must be 0-65535"),
        .init(input: "127.0.0.1:-1", kind: .badPort, fragment: "port must be 0-65535"),
        .init(input: "127.0.0.1:+80", kind: .badPort, fragment: "port must be 0-65535"),
        .init(input: "127.0.0.1:http", kind: .badPort, fragment: "port must be 0-65535"),
        .init(input: "127.0.0.1:80 80", kind: .badPort, fragment: "port must be 0-65535"),
        .init(input: "[::1]:70000", kind: .badPort, fragment: "port must be 0-65535"),
        .init(input: "::1:9000", kind: .unbracketedIPv6, fragment: "IPv6 addresses need brackets: [::1]:PORT"),
        .init(input: "fe80::1:80", kind: .unbracketedIPv6, fragment: "IPv6 addresses need brackets"),
        .init(input: "::1", kind: .unbracketedIPv6, fragment: "IPv6 addresses need brackets"),
        .init(input: ":9000", kind: .missingHost, fragment: "missing host"),
        .init(input: "[]:9000", kind: .missingHost, fragment: "missing host"),
        .init(input: "999.1.1.1:80", kind: .badHost, fragment: "not an IPv4 address"),
        .init(input: "1.2.3:80", kind: .badHost, fragment: "not an IPv4 address"),
        .init(input: "[::1]9000", kind: .badHost, fragment: "expected ':' after ']'"),
        .init(input: "[::1:9000", kind: .badHost, fragment: "missing ']'"),
        .init(input: "[127.0.0.1]:80", kind: .badHost, fragment: "not an IPv6 address"),
        .init(input: "[localhost]:80", kind: .badHost, fragment: "not an IPv6 address"),
        .init(input: "[fe80::1%]:80", kind: .badHost, fragment: "empty IPv6 zone"),
        .init(input: "[fe80::1%nosuchif0]:80", kind: .badHost, fragment: "unknown interface"),
        .init(input: "no-such-host.invalid:80", kind: .unresolvable, fragment: "cannot resolve \"no-such-host.invalid\""),
    ]

    @Test(arguments: rejected)
    func rejectsBadForms(_ c: Rejected) {
        do {
            let a = try SocketAddress.parse(c.input)
            Issue.record("parsed \(c.input) as \(a)")
        } catch {
            #expect(error.kind == c.kind)
            #expect(error.input == c.input)
            #expect(error.description.contains(c.fragment), "\(error)")
            #expect(error.description.hasPrefix("invalid address \"\(c.input)\": "))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func conveniences() throws {
        #expect(SocketAddress.ipv4Loopback(port: 80) == (try SocketAddress.parse("127.0.0.1:80")))
        #expect(SocketAddress.ipv6Loopback(port: 80) == (try SocketAddress.parse("[::1]:80")))
        #expect(SocketAddress.ipv4Any(port: 7) == (try SocketAddress.parse("*:7")))
        #expect(SocketAddress.ipv6Any(port: 7) == (try SocketAddress.parse("[::]:7")))
        #expect(SocketAddress.ipv4Loopback(port: 80).ipString == "127.0.0.1")
        #expect(SocketAddress.ipv6Loopback(port: 80).ipString == "::1")
        let moved = SocketAddress.ipv6Loopback(port: 80).withPort(443)
        #expect(moved.description == "[::1]:443")
        #expect(SocketAddress.ipv4Loopback(port: 1).withPort(2).description == "127.0.0.1:2")
    }

    @Test func equalityAndHashing() throws {
        let a = try SocketAddress.parse("127.0.0.1:80")
        let b = try SocketAddress.parse("localhost:80")
        let c = try SocketAddress.parse("127.0.0.1:81")
        let d = try SocketAddress.parse("[::ffff:127.0.0.1]:80")
        #expect(a == b)
        #expect(a != c)
        #expect(a != d)  // different families
        #expect(Set([a, b, c, d]).count == 3)
        let s1 = try SocketAddress.parse("[fe80::1%lo]:80")
        let s2 = try SocketAddress.parse("[fe80::1]:80")
        #expect(s1 != s2)  // scope matters
    }

    @Test func withSockAddrExposesTheRawSockaddr() throws {
        let v4 = try SocketAddress.parse("10.0.0.1:8080")
        v4.withSockAddr { sa, len in
            #expect(Int32(sa.pointee.sa_family) == AF_INET)
            #expect(Int(len) == MemoryLayout<sockaddr_in>.size)
            sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                #expect(UInt16(bigEndian: sin.pointee.sin_port) == 8080)
                #expect(UInt32(bigEndian: sin.pointee.sin_addr.s_addr) == 0x0A00_0001)
            }
        }
        let v6 = try SocketAddress.parse("[::1]:8080")
        let n = v6.withSockAddr { sa, len -> Int in
            #expect(Int32(sa.pointee.sa_family) == AF_INET6)
            return Int(len)
        }
        #expect(n == MemoryLayout<sockaddr_in6>.size)
    }

    @Test func initFromStorage() throws {
        let a = try SocketAddress.parse("[2001:db8::1]:53")
        let b = SocketAddress(storage: a.storage, length: a.length)
        #expect(a == b)
        #expect(b.description == "[2001:db8::1]:53")
    }
}
