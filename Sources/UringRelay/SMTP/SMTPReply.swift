/// One SMTP reply (RFC 5321 4.2), possibly multi-line, with an optional enhanced status code
/// (RFC 3463, RFC 2034) written on every line.
///
/// `bytes` serializes `250-first\r\n250 last\r\n`; with an enhanced code, `250-2.1.0 first\r\n250 2.1.0 last\r\n`.
/// Text can never carry CR or LF onto the wire: the initializers replace control characters with
/// spaces, and `bytes` does the same again because the properties are mutable.
///
/// It conforms to `Error` so that parsers can return `Result<_, SMTPReply>`: the error is the reply to send.
public struct SMTPReply: Equatable, Sendable, Error, CustomStringConvertible {
    /// Three digits, 200...599 in practice (not checked: it is written as given, zero-padded to three digits).
    public var code: Int
    /// "5.5.2" style, or nil for replies that carry none (greeting, EHLO/HELO, 354).
    public var enhanced: String?
    /// At least one line is written; an empty array is sent as one line with no text.
    public var lines: [String]

    public init(code: Int, enhanced: String? = nil, lines: [String]) {
        self.code = code
        self.enhanced = enhanced.map(Self.sanitized)
        self.lines = lines.map(Self.sanitized)
    }

    public init(code: Int, enhanced: String? = nil, _ text: String) {
        self.init(code: code, enhanced: enhanced, lines: [text])
    }

    /// The reply as it goes on the wire, every line ending in CRLF.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        let textLines = lines.isEmpty ? [""] : lines
        out.reserveCapacity(textLines.reduce(0) { $0 + $1.utf8.count + 16 })
        let codeBytes = Self.codeDigits(code)
        let enhancedBytes: [UInt8]? = enhanced.map { Array(Self.sanitized($0).utf8) }
        for (index, line) in textLines.enumerated() {
            let isLast = index == textLines.count - 1
            out.append(contentsOf: codeBytes)
            let text = Self.sanitized(line).utf8
            if !isLast {
                out.append(UInt8(ascii: "-"))
            } else if enhancedBytes != nil || !text.isEmpty {
                out.append(UInt8(ascii: " "))
            }
            if let e = enhancedBytes {
                out.append(contentsOf: e)
                if !text.isEmpty { out.append(UInt8(ascii: " ")) }
            }
            out.append(contentsOf: text)
            out.append(13)
            out.append(10)
        }
        return out
    }

    /// The reply as text, lines joined with CRLF (for logs and tests).
    public var description: String { String(decoding: bytes, as: UTF8.self) }

    /// True for 2xx and 3xx.
    public var isPositive: Bool { code >= 200 && code < 400 }
    /// True for 4xx.
    public var isTransient: Bool { code >= 400 && code < 500 }
    /// True for 5xx.
    public var isPermanent: Bool { code >= 500 && code < 600 }

    /// Control characters (CR, LF, NUL, DEL, ...) become spaces; the rest of the text is kept.
    static func sanitized(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return text }
        var scalars = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            scalars.append(s.value < 0x20 || s.value == 0x7F ? " " : s)
        }
        return String(scalars)
    }

    private static func codeDigits(_ code: Int) -> [UInt8] {
        let c = min(max(code, 0), 999)
        return [UInt8(48 + c / 100), UInt8(48 + (c / 10) % 10), UInt8(48 + c % 10)]
    }
}

// MARK: - Replies the server uses

extension SMTPReply {
    /// 220 greeting (no enhanced code, RFC 2034 section 3).
    public static func serviceReady(_ host: String) -> SMTPReply {
        SMTPReply(code: 220, "\(host) ESMTP")
    }

    /// 221 2.0.0 on QUIT.
    public static func closing(_ text: String = "Bye") -> SMTPReply {
        SMTPReply(code: 221, enhanced: "2.0.0", text)
    }

    /// 250 to EHLO: the host line, then one line per capability (no enhanced code).
    public static func ehlo(_ host: String, capabilities: [String]) -> SMTPReply {
        SMTPReply(code: 250, lines: [host] + capabilities)
    }

    /// 250 to HELO (no enhanced code).
    public static func helo(_ host: String) -> SMTPReply {
        SMTPReply(code: 250, host)
    }

    /// 250 2.0.0 generic success (RSET, NOOP, end of data).
    public static func ok(_ text: String = "Ok") -> SMTPReply {
        SMTPReply(code: 250, enhanced: "2.0.0", text)
    }

    /// 250 2.1.0 to MAIL.
    public static func senderOK(_ text: String = "Ok") -> SMTPReply {
        SMTPReply(code: 250, enhanced: "2.1.0", text)
    }

    /// 250 2.1.5 to RCPT.
    public static func recipientOK(_ text: String = "Ok") -> SMTPReply {
        SMTPReply(code: 250, enhanced: "2.1.5", text)
    }

    /// 252 2.1.5: VRFY is not answered, but mail will be accepted (RFC 5321 3.5.3).
    public static let vrfy = SMTPReply(code: 252, enhanced: "2.1.5",
                                       "Cannot VRFY user, but will accept message and attempt delivery")

    /// 214 2.0.0 to HELP.
    public static let help = SMTPReply(code: 214, enhanced: "2.0.0", "See RFC 5321")

    /// 354 to DATA (no enhanced code).
    public static let startMailInput = SMTPReply(code: 354, "End data with <CR><LF>.<CR><LF>")

    /// 500 5.5.2: the verb is not recognized.
    public static let unknownCommand = SMTPReply(code: 500, enhanced: "5.5.2", "Error: command not recognized")

    /// 500 5.5.2: a command line over 512 octets including CRLF (RFC 5321 4.5.3.1.4).
    public static let lineTooLong = SMTPReply(code: 500, enhanced: "5.5.2", "Line too long")

    /// 500 5.5.2: a bare CR or bare LF inside a command line.
    public static let bareLineEnding = SMTPReply(code: 500, enhanced: "5.5.2",
                                                 "Error: bare CR or LF in command line; use CRLF")

    /// 550 5.5.2: message rejected because its data had a bare CR or LF (see cases/smtp.md, SMTP smuggling).
    public static let bareLineEndingInData = SMTPReply(code: 550, enhanced: "5.5.2",
                                                       "Message rejected: bare CR or LF line ending in data")

    /// 550 5.5.2: a text line in DATA over 1000 octets including CRLF (RFC 5321 4.5.3.1.6).
    public static let dataLineTooLong = SMTPReply(code: 550, enhanced: "5.5.2",
                                                  "Message rejected: text line too long")

    /// 501 5.5.4: syntax error in parameters or arguments.
    public static func syntax(_ text: String) -> SMTPReply {
        SMTPReply(code: 501, enhanced: "5.5.4", text)
    }

    /// 501 5.1.7: bad sender address syntax.
    public static func badSenderSyntax(_ text: String = "Bad sender address syntax") -> SMTPReply {
        SMTPReply(code: 501, enhanced: "5.1.7", text)
    }

    /// 501 5.1.3: bad recipient address syntax.
    public static func badRecipientSyntax(_ text: String = "Bad recipient address syntax") -> SMTPReply {
        SMTPReply(code: 501, enhanced: "5.1.3", text)
    }

    /// 502 5.5.1: a known command this server does not implement (EXPN, TURN, ...).
    public static let notImplemented = SMTPReply(code: 502, enhanced: "5.5.1", "Command not implemented")

    /// 503 5.5.1: bad sequence of commands.
    public static func badSequence(_ text: String = "Bad sequence of commands") -> SMTPReply {
        SMTPReply(code: 503, enhanced: "5.5.1", text)
    }

    /// 554 5.5.1: DATA/BDAT when every RCPT was refused (cases/smtp.md: not 503).
    public static let noValidRecipients = SMTPReply(code: 554, enhanced: "5.5.1", "Error: no valid recipients")

    /// 555 5.5.4: MAIL/RCPT parameter not recognized or not implemented (RFC 5321 4.1.1.11).
    public static func unknownParameter(_ keyword: String) -> SMTPReply {
        SMTPReply(code: 555, enhanced: "5.5.4", "Unsupported parameter \(keyword)")
    }

    /// 552 5.3.4: message size exceeds the limit (RFC 1870).
    public static let sizeExceeded = SMTPReply(code: 552, enhanced: "5.3.4", "Message size exceeds fixed limit")

    /// 452 4.5.3: too many recipients (RFC 5321 4.5.3.1.10).
    public static let tooManyRecipients = SMTPReply(code: 452, enhanced: "4.5.3", "Too many recipients")

    /// 554 5.7.1: relaying to that recipient is not allowed.
    public static let relayDenied = SMTPReply(code: 554, enhanced: "5.7.1", "Relay access denied")

    /// 553 5.6.7: non-ASCII address without the SMTPUTF8 parameter (RFC 6531 3.7.4.1).
    public static let smtputf8Required = SMTPReply(code: 553, enhanced: "5.6.7",
                                                   "Non-ASCII address requires SMTPUTF8")

    /// 451 4.4.2: the upstream connection failed or timed out (transient, never 5xx).
    public static func upstreamFailed(_ text: String = "Upstream connection lost; try again later") -> SMTPReply {
        SMTPReply(code: 451, enhanced: "4.4.2", text)
    }

    /// 451 4.3.0: local error in processing.
    public static func localError(_ text: String = "Local error in processing") -> SMTPReply {
        SMTPReply(code: 451, enhanced: "4.3.0", text)
    }

    /// 421 4.3.2: service shutting down / not available, closing the connection.
    public static func serviceUnavailable(_ host: String) -> SMTPReply {
        SMTPReply(code: 421, enhanced: "4.3.2", "\(host) Service not available, closing transmission channel")
    }
}
