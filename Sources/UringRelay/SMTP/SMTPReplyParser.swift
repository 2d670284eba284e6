/// Resumable parser of upstream SMTP replies.
///
/// A reply is one or more lines `code-text` ended by the line `code text` or a bare `code`;
/// every line must carry the same code. Lines end with CRLF; a bare LF is accepted as a line
/// end too (a CR before it is dropped). Several replies may come in one input (pipelining)
/// and a reply may be split anywhere across inputs.
///
/// Limits: 512 octets per line including CRLF, 100 lines per reply.
public struct SMTPReplyParser: Sendable {
    public static let maxLineOctets = 512
    public static let maxLines = 100

    /// The partial line carried over from an earlier input.
    var partial: [UInt8] = []
    /// Lines of the reply being collected.
    var lines: [String] = []
    var code = 0
    var enhanced: String?
    /// Set after an error; every later call fails the same way.
    var failure: SMTPReplyParseError?

    public init() {}

    /// True when part of a reply has been received but not its last line.
    public var hasPartialReply: Bool { !partial.isEmpty || !lines.isEmpty }

    /// Parses `input` and returns the replies it completes, in order.
    public mutating func parse(_ input: UnsafeRawBufferPointer) throws(SMTPReplyParseError) -> [UpstreamReply] {
        if let failure { throw failure }
        var replies: [UpstreamReply] = []
        var i = 0
        let n = input.count
        while i < n {
            var j = i
            while j < n && input[j] != 10 { j += 1 }
            if j == n {
                partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<n]))
                // A line may still end with CRLF: 512 octets including CRLF leaves 510 before CR.
                if partial.count > Self.maxLineOctets - 1 { try fail(.lineTooLong) }
                break
            }
            let reply: UpstreamReply?
            if partial.isEmpty {
                reply = try line(UnsafeRawBufferPointer(rebasing: input[i..<j]))
            } else {
                partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<j]))
                let whole = partial
                partial.removeAll(keepingCapacity: true)
                let r = whole.withUnsafeBytes { p in
                    Result { () throws(SMTPReplyParseError) in try line(p) }
                }
                reply = try r.get()
            }
            if let reply { replies.append(reply) }
            i = j + 1
        }
        return replies
    }

    /// Convenience for byte arrays.
    public mutating func parse(_ bytes: [UInt8]) throws(SMTPReplyParseError) -> [UpstreamReply] {
        let r = bytes.withUnsafeBytes { p in
            Result { () throws(SMTPReplyParseError) in try parse(p) }
        }
        return try r.get()
    }

    mutating func fail(_ error: SMTPReplyParseError) throws(SMTPReplyParseError) -> Never {
        failure = error
        throw error
    }

    /// One line without its LF.
    mutating func line(_ raw: UnsafeRawBufferPointer) throws(SMTPReplyParseError) -> UpstreamReply? {
        // raw.count + 1 (the LF) octets were received for this line.
        if raw.count + 1 > Self.maxLineOctets { try fail(.lineTooLong) }
        var end = raw.count
        if end > 0 && raw[end - 1] == 13 { end -= 1 }
        guard end >= 3,
            (50...53).contains(raw[0]), (48...57).contains(raw[1]), (48...57).contains(raw[2])
        else { try fail(.malformedLine) }
        let lineCode = Int(raw[0] - 48) * 100 + Int(raw[1] - 48) * 10 + Int(raw[2] - 48)
        let last: Bool
        var textStart = 3
        if end == 3 {
            last = true
        } else if raw[3] == 32 {
            last = true
            textStart = 4
        } else if raw[3] == 45 {
            last = false
            textStart = 4
        } else {
            try fail(.malformedLine)
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: raw[textStart..<end]), as: UTF8.self)
        if lines.isEmpty {
            code = lineCode
            enhanced = Self.enhancedStatus(in: text, code: lineCode)
        } else if lineCode != code {
            try fail(.codeMismatch(first: code, found: lineCode))
        }
        if lines.count == Self.maxLines { try fail(.tooManyLines) }
        lines.append(text)
        guard last else { return nil }
        let reply = UpstreamReply(code: code, enhanced: enhanced, lines: lines)
        lines.removeAll(keepingCapacity: true)
        enhanced = nil
        code = 0
        return reply
    }

    /// `class.subject.detail` at the start of `text` (RFC 3463: class 2, 4 or 5 matching the
    /// reply code, subject and detail 1-3 digits), followed by a space or the end.
    static func enhancedStatus(in text: String, code: Int) -> String? {
        let utf8 = Array(text.utf8.prefix(12))
        guard utf8.count >= 5, let cls = utf8.first, cls == UInt8(48 + code / 100),
            cls == 50 || cls == 52 || cls == 53, utf8[1] == 46
        else { return nil }
        var i = 2
        for part in 0..<2 {
            let start = i
            while i < utf8.count && (48...57).contains(utf8[i]) && i - start < 4 { i += 1 }
            let digits = i - start
            guard digits >= 1 && digits <= 3 else { return nil }
            if part == 0 {
                guard i < utf8.count && utf8[i] == 46 else { return nil }
                i += 1
            }
        }
        guard i == utf8.count || utf8[i] == 32 else { return nil }
        return String(decoding: utf8[0..<i], as: UTF8.self)
    }
}
