/// A non-delivery report (RFC 3464 multipart/report, RFC 3462) for the recipients of one
/// spooled message that failed for good: a human-readable part, a message/delivery-status part
/// with one block per failed recipient, and the original message's header section
/// (text/rfc822-headers; the body is not returned). It is sent from MAILER-DAEMON with the
/// null reverse-path `<>`, so a bounce can never bounce again (RFC 5321 6.1).
/// Pure: the caller supplies time, names and the boundary.
public enum DeliveryStatusNotification {
    public struct Failure: Equatable, Sendable {
        /// "<x@y>" as in the envelope.
        public var recipient: String
        /// The reply or reason ("550 5.1.1 <x@y>: User unknown", "expired after 5 days: 451 ...").
        public var diagnostic: String

        /// X.Y.Z when the caller knows it better than the diagnostic (4.4.7: expired).
        public var statusOverride: String?

        public init(recipient: String, diagnostic: String, status: String? = nil) {
            self.recipient = recipient
            self.diagnostic = diagnostic
            statusOverride = status
        }

        /// X.Y.Z for the Status field: the override, else the enhanced code the diagnostic
        /// gives after its reply code, else 5.0.0 (a permanent failure without one).
        var status: String {
            if let statusOverride { return statusOverride }
            let words = diagnostic.split(separator: " ")
            for w in words.prefix(3) {
                let parts = w.split(separator: ".")
                if parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }),
                   let c = parts.first, c == "5" || c == "4" {
                    return String(w)
                }
            }
            return "5.0.0"
        }
    }

    /// The report as message text (CRLF lines, not dot-stuffed), headers included.
    public static func make(hostname: String, envelope: SpoolEnvelope, failures: [Failure],
                            originalBody: [UInt8], nowUnixTime: Int, boundary: String) -> [UInt8] {
        let to = bare(envelope.reversePath)
        let date = ReceivedHeader.rfc5322Date(unixTime: nowUnixTime)
        var t = ""
        t += "From: MAILER-DAEMON@\(hostname) (Mail Delivery System)\r\n"
        t += "To: \(to)\r\n"
        t += "Subject: Undelivered Mail Returned to Sender\r\n"
        t += "Date: \(date)\r\n"
        t += "Message-ID: <\(envelope.id).\(nowUnixTime).dsn@\(hostname)>\r\n"
        t += "Auto-Submitted: auto-replied\r\n"
        t += "MIME-Version: 1.0\r\n"
        t += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"\(boundary)\"\r\n"
        t += "\r\n"
        t += "This is a MIME-encapsulated message.\r\n\r\n"
        t += "--\(boundary)\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        t += "This is the mail system at host \(hostname).\r\n\r\n"
        t += "Your message (queue id \(envelope.id)) could not be delivered to \(failures.count == 1 ? "this recipient" : "these recipients").\r\n"
        t += "It has been returned without its body.\r\n\r\n"
        for f in failures { t += "<\(bare(f.recipient))>: \(oneLine(f.diagnostic))\r\n" }
        t += "\r\n--\(boundary)\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n"
        t += "Reporting-MTA: dns; \(hostname)\r\n"
        t += "X-Queue-ID: \(envelope.id)\r\n"
        t += "Arrival-Date: \(ReceivedHeader.rfc5322Date(unixTime: Int(envelope.arrivalUnixMs / 1000)))\r\n"
        for f in failures {
            t += "\r\nFinal-Recipient: rfc822; \(bare(f.recipient))\r\n"
            t += "Action: failed\r\n"
            t += "Status: \(f.status)\r\n"
            t += "Diagnostic-Code: smtp; \(oneLine(f.diagnostic))\r\n"
        }
        t += "\r\n--\(boundary)\r\nContent-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        var out = Array(t.utf8)
        out += headerSection(DotStuffing.unstuff(originalBody))
        out += Array("\r\n--\(boundary)--\r\n".utf8)
        return out
    }

    /// The header section of a message: everything before the first empty line, CRLF-ended.
    static func headerSection(_ message: [UInt8]) -> [UInt8] {
        var i = 0
        while i + 1 < message.count {
            if message[i] == 13 && message[i + 1] == 10 {
                if i + 3 < message.count && message[i + 2] == 13 && message[i + 3] == 10 { return Array(message[..<(i + 2)]) }
                if i == 0 { return [] }
            }
            i += 1
        }
        // No empty line: it is all header.
        return message.isEmpty ? [] : (message.last == 10 ? message : message + [13, 10])
    }

    static func bare(_ path: String) -> String {
        path.hasPrefix("<") && path.hasSuffix(">") ? String(path.dropFirst().dropLast()) : path
    }

    static func oneLine(_ s: String) -> String {
        String(s.map { $0 == "\r" || $0 == "\n" ? " " : $0 })
    }
}
