#if canImport(Glibc)
import Glibc
import CURing
#endif

/// An IPv4 or IPv6 socket address (a copy of a `sockaddr_storage` plus its length).
/// Parsed from "HOST:PORT" text, or built from what accept/getsockname returned.
public struct SocketAddress: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let storage: sockaddr_storage
    public let length: socklen_t

    public init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    // MARK: Construction

    /// IPv4 address from 4 bytes in network order (a.b.c.d).
    public init(ipv4 bytes: (UInt8, UInt8, UInt8, UInt8), port: UInt16) {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        withUnsafeMutableBytes(of: &sin.sin_addr) { raw in
            raw[0] = bytes.0; raw[1] = bytes.1; raw[2] = bytes.2; raw[3] = bytes.3
        }
        self.init(sin)
    }

    init(_ sin: sockaddr_in) {
        var st = sockaddr_storage()
        withUnsafeMutableBytes(of: &st) { dst in
            withUnsafeBytes(of: sin) { src in dst.copyMemory(from: src) }
        }
        self.init(storage: st, length: socklen_t(MemoryLayout<sockaddr_in>.size))
    }

    init(_ sin6: sockaddr_in6) {
        var st = sockaddr_storage()
        withUnsafeMutableBytes(of: &st) { dst in
            withUnsafeBytes(of: sin6) { src in dst.copyMemory(from: src) }
        }
        self.init(storage: st, length: socklen_t(MemoryLayout<sockaddr_in6>.size))
    }

    /// IPv6 address from 16 bytes in network order.
    init(ipv6 bytes: [UInt8], port: UInt16, scopeID: UInt32 = 0) {
        precondition(bytes.count == 16)
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = port.bigEndian
        sin6.sin6_scope_id = scopeID
        withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in
            for i in 0..<16 { raw[i] = bytes[i] }
        }
        self.init(sin6)
    }

    /// 127.0.0.1:port
    public static func ipv4Loopback(port: UInt16) -> SocketAddress {
        SocketAddress(ipv4: (127, 0, 0, 1), port: port)
    }

    /// [::1]:port
    public static func ipv6Loopback(port: UInt16) -> SocketAddress {
        SocketAddress(ipv6: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], port: port)
    }

    /// 0.0.0.0:port
    public static func ipv4Any(port: UInt16) -> SocketAddress {
        SocketAddress(ipv4: (0, 0, 0, 0), port: port)
    }

    /// [::]:port
    public static func ipv6Any(port: UInt16) -> SocketAddress {
        SocketAddress(ipv6: [UInt8](repeating: 0, count: 16), port: port)
    }

    /// The same address with another port.
    public func withPort(_ port: UInt16) -> SocketAddress {
        var st = storage
        switch family {
        case AF_INET:
            withUnsafeMutableBytes(of: &st) { raw in
                raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self).pointee.sin_port = port.bigEndian
            }
        case AF_INET6:
            withUnsafeMutableBytes(of: &st) { raw in
                raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self).pointee.sin6_port = port.bigEndian
            }
        default:
            break
        }
        return SocketAddress(storage: st, length: length)
    }

    // MARK: Accessors

    /// AF_INET, AF_INET6 (or whatever the storage holds).
    public var family: Int32 { Int32(storage.ss_family) }

    private var sin: sockaddr_in {
        withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in.self) }
    }

    private var sin6: sockaddr_in6 {
        withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in6.self) }
    }

    public var port: UInt16 {
        switch family {
        case AF_INET: return UInt16(bigEndian: sin.sin_port)
        case AF_INET6: return UInt16(bigEndian: sin6.sin6_port)
        default: return 0
        }
    }

    /// The IPv6 scope (interface index) or 0.
    public var scopeID: UInt32 {
        family == AF_INET6 ? sin6.sin6_scope_id : 0
    }

    /// The address bytes in network order: 4 for IPv4, 16 for IPv6, empty otherwise.
    var ipBytes: [UInt8] {
        switch family {
        case AF_INET:
            var a = sin.sin_addr
            return withUnsafeBytes(of: &a) { Array($0) }
        case AF_INET6:
            var a = sin6.sin6_addr
            return withUnsafeBytes(of: &a) { Array($0) }
        default:
            return []
        }
    }

    /// "127.0.0.1", "::1", "fe80::1%lo" (no brackets, no port).
    public var ipString: String {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch family {
        case AF_INET:
            var a = sin.sin_addr
            guard inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count)) != nil else { return "?" }
            return decodeCString(buf)
        case AF_INET6:
            var a = sin6.sin6_addr
            guard inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count)) != nil else { return "?" }
            var s = decodeCString(buf)
            let scope = sin6.sin6_scope_id
            if scope != 0 {
                var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
                if if_indextoname(scope, &name) != nil {
                    s += "%" + decodeCString(name)
                } else {
                    s += "%\(scope)"
                }
            }
            return s
        default:
            return "?"
        }
    }

    /// "127.0.0.1:9000", "[::1]:9000".
    public var description: String {
        switch family {
        case AF_INET: return "\(ipString):\(port)"
        case AF_INET6: return "[\(ipString)]:\(port)"
        default: return "<address family \(family)>"
        }
    }

    /// Calls `body` with a `sockaddr` pointer and length for bind/connect/sendto.
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: storage) { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    // MARK: Equatable, Hashable (by family, address, port and scope; padding ignored)

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        guard a.family == b.family else { return false }
        switch a.family {
        case AF_INET, AF_INET6:
            return a.port == b.port && a.ipBytes == b.ipBytes && a.scopeID == b.scopeID
        default:
            guard a.length == b.length else { return false }
            return withUnsafeBytes(of: a.storage) { ra in
                withUnsafeBytes(of: b.storage) { rb in
                    ra.prefix(Int(a.length)).elementsEqual(rb.prefix(Int(b.length)))
                }
            }
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(family)
        hasher.combine(port)
        hasher.combine(ipBytes)
        hasher.combine(scopeID)
    }

    // MARK: Parsing

    /// Parses "HOST:PORT":
    /// `127.0.0.1:9000`, `[::1]:9000`, `[fe80::1%lo]:9000`, `localhost:9000` (getaddrinfo, IPv4 preferred),
    /// `*:9000` and `0.0.0.0:9000` (IPv4 any), `[::]:9000` (IPv6 any). Port 0 is allowed (ephemeral).
    /// Numeric hosts never reach DNS.
    public static func parse(_ text: String) throws(AddressParseError) -> SocketAddress {
        func fail(_ kind: AddressParseError.Kind, _ detail: String) -> AddressParseError {
            AddressParseError(input: text, kind: kind, detail: detail)
        }
        let s = text.trimmingASCIISpaces()

        let host: Substring
        let portText: Substring
        let bracketed: Bool
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else {
                throw fail(.badHost, "missing ']' after IPv6 address")
            }
            host = s[s.index(after: s.startIndex)..<close]
            let rest = s[s.index(after: close)...]
            if rest.isEmpty {
                throw fail(.missingPort, "missing port (expected [HOST]:PORT)")
            }
            guard rest.first == ":" else {
                throw fail(.badHost, "expected ':' after ']'")
            }
            portText = rest.dropFirst()
            bracketed = true
        } else {
            guard let colon = s.lastIndex(of: ":") else {
                throw fail(.missingPort, "missing port (expected HOST:PORT)")
            }
            host = s[..<colon]
            if host.contains(":") {
                throw fail(.unbracketedIPv6, "IPv6 addresses need brackets: [::1]:PORT")
            }
            portText = s[s.index(after: colon)...]
            bracketed = false
        }

        if portText.isEmpty {
            throw fail(.missingPort, "missing port after ':'")
        }
        guard portText.count <= 5, portText.allSatisfy({ $0 >= "0" && $0 <= "9" }),
              let portValue = Int(portText), portValue <= 65535 else {
            throw fail(.badPort, "port must be 0-65535")
        }
        let port = UInt16(portValue)

        if host.isEmpty {
            throw fail(.missingHost, "missing host (use * or 0.0.0.0 for any address)")
        }

        if bracketed {
            // IPv6 literal, optional %zone (interface name or index).
            var addrPart = host
            var scopeID: UInt32 = 0
            if let pct = host.firstIndex(of: "%") {
                addrPart = host[..<pct]
                let zone = String(host[host.index(after: pct)...])
                if zone.isEmpty {
                    throw fail(.badHost, "empty IPv6 zone after '%'")
                }
                if let n = UInt32(zone) {
                    scopeID = n
                } else {
                    let idx = if_nametoindex(zone)
                    if idx == 0 {
                        throw fail(.badHost, "unknown interface \"\(zone)\" in IPv6 zone")
                    }
                    scopeID = idx
                }
            }
            guard let bytes = parseIPv6(String(addrPart)) else {
                throw fail(.badHost, "\"\(addrPart)\" is not an IPv6 address")
            }
            return SocketAddress(ipv6: bytes, port: port, scopeID: scopeID)
        }

        if host == "*" {
            return .ipv4Any(port: port)
        }
        // Dotted digits are always numeric: never send them to DNS (getaddrinfo would also
        // accept forms like "1.2.3" via inet_aton).
        if host.allSatisfy({ $0 == "." || ($0 >= "0" && $0 <= "9") }) {
            guard let b = parseIPv4(String(host)) else {
                throw fail(.badHost, "\"\(host)\" is not an IPv4 address")
            }
            return SocketAddress(ipv4: (b[0], b[1], b[2], b[3]), port: port)
        }
        return try resolve(String(host), port: port, input: text)
    }

    /// 4 bytes for a dotted-quad IPv4 literal, nil otherwise.
    static func parseIPv4(_ text: String) -> [UInt8]? {
        var a = in_addr()
        guard inet_pton(AF_INET, text, &a) == 1 else { return nil }
        return withUnsafeBytes(of: &a) { Array($0) }
    }

    /// 16 bytes for an IPv6 literal (no brackets, no zone), nil otherwise.
    static func parseIPv6(_ text: String) -> [UInt8]? {
        var a = in6_addr()
        guard inet_pton(AF_INET6, text, &a) == 1 else { return nil }
        return withUnsafeBytes(of: &a) { Array($0) }
    }

    /// Name lookup with getaddrinfo (no AI_ADDRCONFIG, so "localhost" works without a
    /// configured interface); the first IPv4 result wins, else the first IPv6 one.
    private static func resolve(_ host: String, port: UInt16, input: String) throws(AddressParseError) -> SocketAddress {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = CURING_SOCK_STREAM
        hints.ai_flags = 0
        var result: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(host, nil, &hints, &result)
        guard rc == 0, let first = result else {
            let why = rc == 0 ? "no addresses" : String(cString: gai_strerror(rc))
            throw AddressParseError(input: input, kind: .unresolvable, detail: "cannot resolve \"\(host)\": \(why)")
        }
        defer { freeaddrinfo(first) }

        var v4: SocketAddress? = nil
        var v6: SocketAddress? = nil
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let ai = p {
            if let sa = ai.pointee.ai_addr {
                if ai.pointee.ai_family == AF_INET, v4 == nil,
                   Int(ai.pointee.ai_addrlen) >= MemoryLayout<sockaddr_in>.size {
                    var sin = UnsafeRawPointer(sa).loadUnaligned(as: sockaddr_in.self)
                    sin.sin_port = port.bigEndian
                    v4 = SocketAddress(sin)
                } else if ai.pointee.ai_family == AF_INET6, v6 == nil,
                          Int(ai.pointee.ai_addrlen) >= MemoryLayout<sockaddr_in6>.size {
                    var sin6 = UnsafeRawPointer(sa).loadUnaligned(as: sockaddr_in6.self)
                    sin6.sin6_port = port.bigEndian
                    v6 = SocketAddress(sin6)
                }
            }
            p = ai.pointee.ai_next
        }
        if let v4 { return v4 }
        if let v6 { return v6 }
        throw AddressParseError(input: input, kind: .unresolvable,
                                detail: "cannot resolve \"\(host)\": no IPv4 or IPv6 address")
    }
}

/// String from a NUL-terminated C buffer filled by inet_ntop / if_indextoname.
fileprivate func decodeCString(_ buf: [CChar]) -> String {
    let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}

extension String {
    fileprivate func trimmingASCIISpaces() -> Substring {
        var s = self[...]
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}
