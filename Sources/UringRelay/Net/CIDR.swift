#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 network: "127.0.0.0/8", "::1/128"; a bare address is a host (/32 or /128).
/// Host bits are cleared on parse ("10.1.2.3/8" is 10.0.0.0/8).
/// `contains` matches IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, as seen on dual-stack
/// listeners) against IPv4 networks; plain IPv4 addresses never match IPv6 networks.
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    /// AF_INET or AF_INET6.
    public let family: Int32
    /// 0...32 for IPv4, 0...128 for IPv6.
    public let prefixLength: Int
    /// Network bytes (4 or 16), host bits zero.
    let network: [UInt8]

    public static func parse(_ text: String) throws(CIDRParseError) -> CIDR {
        let s = text.trimmingASCIISpacesForCIDR()
        let addrText: Substring
        let prefixText: Substring?
        if let slash = s.firstIndex(of: "/") {
            addrText = s[..<slash]
            prefixText = s[s.index(after: slash)...]
        } else {
            addrText = s
            prefixText = nil
        }

        let family: Int32
        let bytes: [UInt8]
        if let b = SocketAddress.parseIPv4(String(addrText)) {
            family = AF_INET
            bytes = b
        } else if let b = SocketAddress.parseIPv6(String(addrText)) {
            family = AF_INET6
            bytes = b
        } else {
            throw CIDRParseError(input: text, kind: .badAddress,
                                 detail: "\"\(addrText)\" is not an IPv4 or IPv6 address")
        }
        let maxBits = bytes.count * 8

        var prefix = maxBits
        if let p = prefixText {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0 >= "0" && $0 <= "9" }),
                  let n = Int(p), n <= maxBits else {
                throw CIDRParseError(input: text, kind: .badPrefixLength,
                                     detail: "prefix length must be 0-\(maxBits) for \(family == AF_INET ? "IPv4" : "IPv6")")
            }
            prefix = n
        }
        return CIDR(family: family, prefixLength: prefix, network: Self.mask(bytes, prefix))
    }

    private init(family: Int32, prefixLength: Int, network: [UInt8]) {
        self.family = family
        self.prefixLength = prefixLength
        self.network = network
    }

    private static func mask(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
        var out = bytes
        for i in 0..<out.count {
            let bitsHere = max(0, min(8, prefix - i * 8))
            let m: UInt8 = bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - bitsHere))
            out[i] &= m
        }
        return out
    }

    public func contains(_ address: SocketAddress) -> Bool {
        var bytes = address.ipBytes
        if family == AF_INET, bytes.count == 16, Self.isIPv4Mapped(bytes) {
            bytes = Array(bytes[12..<16])
        }
        guard bytes.count == network.count else { return false }
        return Self.mask(bytes, prefixLength) == network
    }

    private static func isIPv4Mapped(_ b: [UInt8]) -> Bool {
        b[0..<10].allSatisfy { $0 == 0 } && b[10] == 0xFF && b[11] == 0xFF
    }

    /// "10.0.0.0/8", "::1/128".
    public var description: String {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        var text = "?"
        network.withUnsafeBytes { raw in
            if inet_ntop(family, raw.baseAddress, &buf, socklen_t(buf.count)) != nil {
                text = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return "\(text)/\(prefixLength)"
    }
}

extension String {
    fileprivate func trimmingASCIISpacesForCIDR() -> Substring {
        var s = self[...]
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}
