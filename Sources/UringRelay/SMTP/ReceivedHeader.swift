/// The trace header a relay prepends to every message it passes on (RFC 5321 4.4):
///
///     Received: from client.example (helo=client.example) ([192.0.2.7])
///     	by relay.example (uring-relay) with ESMTPA id 5F3A…; Thu, 03 Dec 2026 19:30:45 +0000
///
/// Pure: the caller supplies the id and the time, so tests can pin them.
public enum ReceivedHeader {
    /// The WITH protocol names of RFC 3848 / RFC 6531.
    public enum WithProtocol: String, Sendable {
        case smtp = "SMTP"
        case esmtp = "ESMTP"
        case utf8smtp = "UTF8SMTP"
    }

    public static func make(heloName: String, clientIP: String, hostname: String, protocol proto: WithProtocol,
                            id: String, recipient: String?, unixTime: Int) -> [UInt8] {
        let helo = sanitized(heloName.isEmpty ? "unknown" : heloName)
        var line = "Received: from \(helo) ([\(sanitized(clientIP))])\r\n"
        line += "\tby \(sanitized(hostname)) (uring-relay) with \(proto.rawValue) id \(sanitized(id))"
        if let r = recipient { line += "\r\n\tfor \(sanitized(r))" }
        line += "; \(rfc5322Date(unixTime: unixTime))\r\n"
        return Array(line.utf8)
    }

    /// "Thu, 03 Dec 2026 19:30:45 +0000" (RFC 5322 3.3), always in UTC.
    public static func rfc5322Date(unixTime: Int) -> String {
        let days = unixTime >= 0 ? unixTime / 86_400 : (unixTime - 86_399) / 86_400
        let secondsOfDay = unixTime - days * 86_400
        let (y, m, d) = civilFromDays(days)
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][((days % 7) + 7) % 7]
        let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][m - 1]
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(weekday), \(two(d)) \(month) \(y) \(two(secondsOfDay / 3600)):\(two(secondsOfDay / 60 % 60)):\(two(secondsOfDay % 60)) +0000"
    }

    /// Days since 1970-01-01 → (year, month 1-12, day 1-31), proleptic Gregorian.
    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// Header text comes partly from the client (its HELO name): no CR, LF, NUL or other
    /// control bytes may reach the header, or a client could inject headers; and nothing
    /// beyond ASCII, or an 8-bit header would go out in a message that did not ask for SMTPUTF8.
    static func sanitized(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { $0.value < 0x20 || $0.value >= 0x7F ? "?" : $0 }))
    }
}
