/// Byte-level syntax checks shared by the SMTP parsers (RFC 5321 4.1.2, 4.1.3; RFC 6531 for
/// UTF-8). Pure functions over bytes; UTF-8 validity is checked by the caller when it makes a String.
enum SMTPSyntax {
    static let sp = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")

    static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
    static func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) >= 97 && (b | 0x20) <= 122 }
    static func isHexDigit(_ b: UInt8) -> Bool { isDigit(b) || ((b | 0x20) >= 97 && (b | 0x20) <= 102) }

    /// atext (RFC 5322 3.2.3) plus UTF-8 bytes (RFC 6531 3.3).
    static func isAtext(_ b: UInt8) -> Bool {
        if isAlpha(b) || isDigit(b) || b >= 0x80 { return true }
        switch b {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"),
             UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"),
             UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "?"),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "{"),
             UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// qtextSMTP (RFC 5321 4.1.2) plus UTF-8 bytes (RFC 6531 3.3).
    static func isQtext(_ b: UInt8) -> Bool {
        (b >= 32 && b <= 126 && b != 34 && b != 92) || b >= 0x80
    }

    /// ASCII case-insensitive comparison of bytes with an ASCII literal.
    static func equalsIgnoringCase(_ bytes: ArraySlice<UInt8>, _ literal: String) -> Bool {
        let l = literal.utf8
        guard bytes.count == l.count else { return false }
        return zip(bytes, l).allSatisfy { a, b in
            a == b || (isAlpha(a) && isAlpha(b) && a | 0x20 == b | 0x20)
        }
    }

    /// True when `bytes` starts with the ASCII literal, ignoring case.
    static func hasPrefixIgnoringCase(_ bytes: ArraySlice<UInt8>, _ literal: String) -> Bool {
        let n = literal.utf8.count
        guard bytes.count >= n else { return false }
        return equalsIgnoringCase(bytes.prefix(n), literal)
    }

    /// Domain (RFC 5321 4.1.2): dot-separated labels of letters, digits and hyphens, not starting
    /// or ending with a hyphen, 1...63 octets each, 255 in all. Tolerated: underscore (real
    /// devices use it in host names) and UTF-8 bytes (U-labels, RFC 6531).
    static func isDomain(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.count <= SMTPPath.maximumDomainLength else { return false }
        var labelLength = 0
        var previous: UInt8 = UInt8(ascii: ".")
        for b in bytes {
            if b == UInt8(ascii: ".") {
                if labelLength == 0 || previous == UInt8(ascii: "-") { return false }
                labelLength = 0
            } else {
                guard isAlpha(b) || isDigit(b) || b == UInt8(ascii: "_") || b >= 0x80
                        || (b == UInt8(ascii: "-") && labelLength > 0) else { return false }
                labelLength += 1
                if labelLength > 63 { return false }
            }
            previous = b
        }
        return labelLength > 0 && previous != UInt8(ascii: "-")
    }

    /// address-literal (RFC 5321 4.1.3), brackets included: `[192.0.2.1]` or `[IPv6:2001:db8::1]`
    /// (the tag is case-insensitive). An IPv6 address without the tag and general address
    /// literals (`[tag:content]`) are refused.
    static func isAddressLiteral(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.count >= 3, bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]") else {
            return false
        }
        let inner = bytes.dropFirst().dropLast()
        if hasPrefixIgnoringCase(inner, "IPv6:") {
            return isIPv6(inner.dropFirst(5))
        }
        return isIPv4(inner)
    }

    /// Dotted-quad IPv4 (RFC 5321 IPv4-address-literal): four groups of 1-3 digits, each 0-255.
    static func isIPv4(_ bytes: ArraySlice<UInt8>) -> Bool {
        var groups = 0
        var digits = 0
        var value = 0
        for b in bytes {
            if b == UInt8(ascii: ".") {
                guard digits > 0, groups < 3 else { return false }
                groups += 1
                digits = 0
                value = 0
            } else if isDigit(b) {
                digits += 1
                value = value * 10 + Int(b - 48)
                if digits > 3 || value > 255 { return false }
            } else {
                return false
            }
        }
        return groups == 3 && digits > 0
    }

    /// IPv6 text form (RFC 4291 2.2): eight groups of 1-4 hex digits, one "::" standing for one
    /// or more zero groups, and an optional dotted-quad IPv4 tail counting as two groups.
    static func isIPv6(_ bytes: ArraySlice<UInt8>) -> Bool {
        let end = bytes.endIndex
        var i = bytes.startIndex
        guard i < end else { return false }
        var groups = 0
        var compressed = false
        let colon = UInt8(ascii: ":")
        if bytes[i] == colon {
            guard i + 1 < end, bytes[i + 1] == colon else { return false }
            compressed = true
            i += 2
            if i == end { return true }
        }
        while true {
            var j = i
            var sawDot = false
            while j < end && bytes[j] != colon {
                if bytes[j] == UInt8(ascii: ".") { sawDot = true }
                j += 1
            }
            let group = bytes[i..<j]
            if sawDot {
                guard j == end, isIPv4(group) else { return false }
                groups += 2
                break
            }
            guard (1...4).contains(group.count), group.allSatisfy(isHexDigit) else { return false }
            groups += 1
            if j == end { break }
            j += 1  // past ':'
            if j < end && bytes[j] == colon {
                if compressed { return false }
                compressed = true
                j += 1
                if j == end { break }
            } else if j == end {
                return false  // trailing single colon
            }
            if groups > 8 { return false }
            i = j
        }
        return compressed ? groups <= 7 : groups == 8
    }

    /// esmtp-keyword (RFC 5321 4.1.2): (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
    static func isESMTPKeyword(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let first = bytes.first, isAlpha(first) || isDigit(first) else { return false }
        return bytes.allSatisfy { isAlpha($0) || isDigit($0) || $0 == UInt8(ascii: "-") }
    }

    /// esmtp-value (RFC 5321 4.1.2, RFC 6531 3.3): 1*(%d33-60 / %d62-126 / UTF-8).
    static func isESMTPValue(_ bytes: ArraySlice<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { ($0 >= 33 && $0 <= 126 && $0 != UInt8(ascii: "=")) || $0 >= 0x80 }
    }

    /// Splits on runs of spaces; empty tokens are dropped.
    static func tokens(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        bytes.split(separator: sp, omittingEmptySubsequences: true)
    }

    /// A String from bytes that must be valid UTF-8.
    static func string(_ bytes: ArraySlice<UInt8>) -> String? {
        String(validating: bytes, as: UTF8.self)
    }
}
