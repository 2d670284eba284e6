/// One complete reply from the upstream server, possibly from several lines.
public struct UpstreamReply: Sendable, Equatable {
    /// The three-digit reply code, the same on every line.
    public var code: Int
    /// The enhanced status code (RFC 3463, e.g. "2.1.0") when the first line's text begins
    /// with one whose class matches the reply code's first digit.
    public var enhanced: String?
    /// The text of each line after the code and its separator (" " or "-"); empty for a bare
    /// code line. The enhanced status code, if any, is left in the text.
    public var lines: [String]

    public init(code: Int, enhanced: String? = nil, lines: [String]) {
        self.code = code
        self.enhanced = enhanced
        self.lines = lines
    }

    /// 2yz.
    public var isPositive: Bool { code >= 200 && code < 300 }
    /// 3yz (e.g. 354 after DATA).
    public var isIntermediate: Bool { code >= 300 && code < 400 }
    /// 4yz.
    public var isTransientFailure: Bool { code >= 400 && code < 500 }
    /// 5yz.
    public var isPermanentFailure: Bool { code >= 500 && code < 600 }

    /// EHLO capabilities: each extension line's keyword, upper-cased, mapped to its parameters
    /// (the rest of the line after the keyword, or nil when there are none). The first line
    /// (the server's domain and greeting) is skipped.
    public var ehloCapabilities: [String: String?] {
        var caps: [String: String?] = [:]
        for line in lines.dropFirst() {
            let trimmed = line.drop(while: { $0 == " " })
            guard !trimmed.isEmpty else { continue }
            let keyword = trimmed.prefix(while: { $0 != " " && $0 != "=" })
            guard !keyword.isEmpty else { continue }
            let rest = trimmed[keyword.endIndex...].drop(while: { $0 == " " || $0 == "=" })
            let params = rest.reversed().drop(while: { $0 == " " }).reversed()
            caps[keyword.uppercased()] = params.isEmpty ? nil : String(params)
        }
        return caps
    }

    /// The upper-cased EHLO keywords (see `ehloCapabilities`).
    public var ehloKeywords: Set<String> { Set(ehloCapabilities.keys) }

    /// The upstream's fixed message size limit from `SIZE n` (RFC 1870); nil when SIZE is
    /// absent, has no value, is 0 (no fixed limit) or is not a number.
    public var ehloSizeLimit: Int? {
        guard let entry = ehloCapabilities["SIZE"], let value = entry,
            let n = Int(value), n > 0
        else { return nil }
        return n
    }
}

extension UpstreamReply {
    /// The reply as the relay passes it to its own client: same code and lines, the enhanced
    /// status code moved out of the text so `SMTPReply` writes it on every line.
    public var clientReply: SMTPReply {
        guard let enhanced else { return SMTPReply(code: code, lines: lines) }
        let stripped = lines.map { line -> String in
            guard line.hasPrefix(enhanced) else { return line }
            return String(line.dropFirst(enhanced.count).drop(while: { $0 == " " }))
        }
        return SMTPReply(code: code, enhanced: enhanced, lines: stripped)
    }
}
