/// Parses one SMTP command line (without its CRLF, as produced by `SMTPCommandLineReader`) into an
/// `SMTPCommand`, or into the reply to send when it is not acceptable. Pure: no I/O, no state.
///
/// - Verbs and the `FROM:` / `TO:` keywords are case-insensitive. After the colon, spaces are
///   tolerated (`MAIL FROM: <a@b>`, as Postfix does); trailing spaces and tabs on the line are
///   ignored; arguments and parameters are separated by one or more spaces.
/// - Unknown verb: 500 5.5.2. Known but unimplemented verbs (EXPN, TURN, ETRN, STARTTLS, AUTH,
///   ...): 502 5.5.1. Missing or extra arguments: 501 5.5.4.
/// - Control characters (other than HT) anywhere in the line: 501 5.5.4.
/// - Paths: syntax errors give 501 5.1.7 (MAIL) or 501 5.1.3 (RCPT); a path over 256 octets
///   gives 501 "Path too long" and a local part over 64 octets 553 (same enhanced codes).
public enum SMTPCommandParser {
    public static func parse(_ line: [UInt8]) -> Result<SMTPCommand, SMTPReply> {
        parse(line[...])
    }

    public static func parse(_ line: String) -> Result<SMTPCommand, SMTPReply> {
        parse(Array(line.utf8)[...])
    }

    public static func parse(_ line: ArraySlice<UInt8>) -> Result<SMTPCommand, SMTPReply> {
        var end = line.endIndex
        while end > line.startIndex && (line[end - 1] == SMTPSyntax.sp || line[end - 1] == SMTPSyntax.tab) {
            end -= 1
        }
        let s = line[line.startIndex..<end]
        if s.contains(where: { ($0 < 0x20 && $0 != SMTPSyntax.tab) || $0 == 0x7F }) {
            return .failure(.syntax("Error: control character in command"))
        }
        let verbEnd = s.firstIndex(of: SMTPSyntax.sp) ?? s.endIndex
        let verb = s[s.startIndex..<verbEnd]
        var argStart = verbEnd
        while argStart < s.endIndex && s[argStart] == SMTPSyntax.sp { argStart += 1 }
        let argument: ArraySlice<UInt8>? = argStart < s.endIndex ? s[argStart...] : nil

        guard let name = upperVerb(verb) else { return .failure(.unknownCommand) }
        switch name {
        case "EHLO", "HELO":
            return parseHello(name, argument)
        case "MAIL":
            return parseMail(argument)
        case "RCPT":
            return parseRcpt(argument)
        case "DATA":
            return argument == nil ? .success(.data) : .failure(.syntax("Syntax: DATA"))
        case "BDAT":
            return parseBdat(argument)
        case "RSET":
            return argument == nil ? .success(.rset) : .failure(.syntax("Syntax: RSET"))
        case "QUIT":
            return argument == nil ? .success(.quit) : .failure(.syntax("Syntax: QUIT"))
        case "NOOP":
            return .success(.noop)
        case "HELP":
            return .success(.help)
        case "VRFY":
            guard let a = argument else { return .failure(.syntax("Syntax: VRFY address")) }
            return .success(.vrfy(String(decoding: a, as: UTF8.self)))
        case "EXPN", "TURN", "ETRN", "ATRN", "AUTH", "STARTTLS", "BURL", "SEND", "SOML", "SAML":
            return .failure(.notImplemented)
        default:
            return .failure(.unknownCommand)
        }
    }

    /// The verb in upper case when it is 1...8 ASCII letters, else nil.
    private static func upperVerb(_ verb: ArraySlice<UInt8>) -> String? {
        guard (1...8).contains(verb.count), verb.allSatisfy(SMTPSyntax.isAlpha) else { return nil }
        return String(decoding: verb.map { $0 & ~0x20 }, as: UTF8.self)
    }

    // MARK: EHLO / HELO

    private static func parseHello(_ name: String, _ argument: ArraySlice<UInt8>?) -> Result<SMTPCommand, SMTPReply> {
        guard let a = argument else { return .failure(.syntax("Syntax: \(name) hostname")) }
        if a.contains(SMTPSyntax.sp) || a.contains(SMTPSyntax.tab) {
            return .failure(.syntax("Syntax: \(name) hostname"))
        }
        let valid = a.first == UInt8(ascii: "[") ? SMTPSyntax.isAddressLiteral(a) : SMTPSyntax.isDomain(a)
        guard valid, let text = SMTPSyntax.string(a) else {
            return .failure(.syntax("Error: invalid \(name) hostname"))
        }
        return .success(name == "EHLO" ? .ehlo(text) : .helo(text))
    }

    // MARK: BDAT

    /// `BDAT chunk-size [LAST]` (RFC 3030): chunk-size is 1*DIGIT and must fit in Int.
    private static func parseBdat(_ argument: ArraySlice<UInt8>?) -> Result<SMTPCommand, SMTPReply> {
        let usage = SMTPReply.syntax("Syntax: BDAT size [LAST]")
        guard let a = argument else { return .failure(usage) }
        let parts = SMTPSyntax.tokens(a)
        guard (1...2).contains(parts.count), parts[0].allSatisfy(SMTPSyntax.isDigit) else { return .failure(usage) }
        var size = 0
        for d in parts[0] {
            let (m, o1) = size.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(d - 48))
            if o1 || o2 { return .failure(.syntax("Error: BDAT size too large")) }
            size = s
        }
        var last = false
        if parts.count == 2 {
            guard SMTPSyntax.equalsIgnoringCase(parts[1], "LAST") else { return .failure(usage) }
            last = true
        }
        return .success(.bdat(size: size, last: last))
    }

    // MARK: MAIL / RCPT

    private static func parseMail(_ argument: ArraySlice<UInt8>?) -> Result<SMTPCommand, SMTPReply> {
        let usage = SMTPReply.syntax("Syntax: MAIL FROM:<address>")
        guard let a = argument, SMTPSyntax.hasPrefixIgnoringCase(a, "FROM:") else { return .failure(usage) }
        let afterColon = skipSpaces(a.dropFirst(5))
        guard !afterColon.isEmpty else { return .failure(usage) }
        let scanned: (path: SMTPPath?, end: Int)
        switch scanPath(afterColon, nullAllowed: true) {
        case .success(let r): scanned = r
        case .failure(let e): return .failure(reply(for: e, sender: true))
        }
        let rest = afterColon[scanned.end...]
        guard rest.isEmpty || rest.first == SMTPSyntax.sp else {
            return .failure(.badSenderSyntax())
        }
        var params = MailParameters()
        var seen: Set<String> = []
        for token in SMTPSyntax.tokens(rest) {
            let parsed: (keyword: ArraySlice<UInt8>, value: ArraySlice<UInt8>?)
            switch splitParameter(token) {
            case .success(let p): parsed = p
            case .failure(let r): return .failure(r)
            }
            let key = String(decoding: parsed.keyword.map { SMTPSyntax.isAlpha($0) ? $0 & ~0x20 : $0 }, as: UTF8.self)
            let keyword = String(decoding: parsed.keyword, as: UTF8.self)
            let value = parsed.value.flatMap(SMTPSyntax.string)
            if parsed.value != nil && value == nil {
                return .failure(.syntax("Error: invalid UTF-8 in parameter \(keyword)"))
            }
            switch key {
            case "SIZE":
                guard let v = parsed.value, v.allSatisfy(SMTPSyntax.isDigit) else {
                    return .failure(.syntax("Error: bad SIZE value"))
                }
                params.size = clampedDecimal(v)
            case "BODY":
                guard let v = value, let body = MailParameters.BodyType.allCases.first(where: {
                    SMTPSyntax.equalsIgnoringCase(Array(v.utf8)[...], $0.rawValue)
                }) else {
                    return .failure(.syntax("Error: bad BODY value"))
                }
                // BINARYMIME needs CHUNKING end to end and is not advertised (RFC 3030 3).
                if body == .binaryMIME { return .failure(.unknownParameter("BODY=BINARYMIME")) }
                params.body = body
            case "SMTPUTF8":
                guard parsed.value == nil else { return .failure(.syntax("Error: SMTPUTF8 takes no value")) }
                params.smtputf8 = true
            default:
                return .failure(.unknownParameter(keyword))
            }
            guard seen.insert(key).inserted else {
                return .failure(.syntax("Error: duplicate parameter \(keyword)"))
            }
            params.raw.append((keyword, value))
        }
        return .success(.mail(reversePath: scanned.path, parameters: params))
    }

    private static func parseRcpt(_ argument: ArraySlice<UInt8>?) -> Result<SMTPCommand, SMTPReply> {
        let usage = SMTPReply.syntax("Syntax: RCPT TO:<address>")
        guard let a = argument, SMTPSyntax.hasPrefixIgnoringCase(a, "TO:") else { return .failure(usage) }
        let afterColon = skipSpaces(a.dropFirst(3))
        guard !afterColon.isEmpty else { return .failure(usage) }
        let scanned: (path: SMTPPath?, end: Int)
        switch scanPath(afterColon, nullAllowed: false) {
        case .success(let r): scanned = r
        case .failure(let e): return .failure(reply(for: e, sender: false))
        }
        guard let path = scanned.path else { return .failure(.badRecipientSyntax()) }
        let rest = afterColon[scanned.end...]
        guard rest.isEmpty || rest.first == SMTPSyntax.sp else {
            return .failure(.badRecipientSyntax())
        }
        // No RCPT parameters are supported yet (NOTIFY, ORCPT are not advertised).
        for token in SMTPSyntax.tokens(rest) {
            switch splitParameter(token) {
            case .success(let p):
                return .failure(.unknownParameter(String(decoding: p.keyword, as: UTF8.self)))
            case .failure(let r):
                return .failure(r)
            }
        }
        return .success(.rcpt(forwardPath: path, parameters: [:]))
    }

    /// keyword["=" value], both checked against RFC 5321 esmtp-keyword / esmtp-value.
    private static func splitParameter(_ token: ArraySlice<UInt8>)
        -> Result<(keyword: ArraySlice<UInt8>, value: ArraySlice<UInt8>?), SMTPReply> {
        let eq = token.firstIndex(of: UInt8(ascii: "="))
        let keyword = token[token.startIndex..<(eq ?? token.endIndex)]
        guard SMTPSyntax.isESMTPKeyword(keyword) else {
            return .failure(.syntax("Error: bad parameter syntax"))
        }
        guard let eq else { return .success((keyword, nil)) }
        let value = token[(eq + 1)...]
        guard SMTPSyntax.isESMTPValue(value) else {
            return .failure(.syntax("Error: bad value for parameter \(String(decoding: keyword, as: UTF8.self))"))
        }
        return .success((keyword, value))
    }

    /// Decimal digits to Int, clamped to Int.max on overflow (RFC 1870 allows 20 digits).
    private static func clampedDecimal(_ digits: ArraySlice<UInt8>) -> Int {
        var n = 0
        for d in digits {
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(d - 48))
            if o1 || o2 { return Int.max }
            n = s
        }
        return n
    }

    private static func skipSpaces(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        s.drop(while: { $0 == SMTPSyntax.sp })
    }

    // MARK: Paths

    enum PathError: Error, Equatable {
        case syntax
        case nullNotAllowed
        case pathTooLong
        case localPartTooLong
    }

    private static func reply(for error: PathError, sender: Bool) -> SMTPReply {
        let enhanced = sender ? "5.1.7" : "5.1.3"
        switch error {
        case .syntax, .nullNotAllowed:
            return sender ? .badSenderSyntax() : .badRecipientSyntax()
        case .pathTooLong:
            return SMTPReply(code: 501, enhanced: enhanced, "Path too long")
        case .localPartTooLong:
            return SMTPReply(code: 553, enhanced: enhanced, "Local part too long")
        }
    }

    /// Scans a Path (or "<>") at the start of `s` (RFC 5321 4.1.2):
    /// `"<" [ A-d-l ":" ] Mailbox ">"`, where A-d-l is a source route that is checked and dropped.
    /// Returns the path (nil for "<>") and the index just past ">".
    static func scanPath(_ s: ArraySlice<UInt8>, nullAllowed: Bool) -> Result<(path: SMTPPath?, end: Int), PathError> {
        let start = s.startIndex
        let end = s.endIndex
        let lt = UInt8(ascii: "<"), gt = UInt8(ascii: ">"), at = UInt8(ascii: "@")
        let dot = UInt8(ascii: "."), dquote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        guard start < end, s[start] == lt else { return .failure(.syntax) }
        var i = start + 1
        guard i < end else { return .failure(.syntax) }
        if s[i] == gt {
            return nullAllowed ? .success((nil, i + 1)) : .failure(.nullNotAllowed)
        }

        // Source route: "@" Domain *( "," "@" Domain ) ":"
        if s[i] == at {
            while true {
                guard i < end, s[i] == at else { return .failure(.syntax) }
                i += 1
                let domainStart = i
                while i < end && s[i] != UInt8(ascii: ",") && s[i] != UInt8(ascii: ":") { i += 1 }
                guard i < end, SMTPSyntax.isDomain(s[domainStart..<i]) else { return .failure(.syntax) }
                let separator = s[i]
                i += 1
                if separator == UInt8(ascii: ":") { break }
            }
        }

        // Local part: Dot-string or Quoted-string.
        let localStart = i
        guard i < end else { return .failure(.syntax) }
        if s[i] == dquote {
            i += 1
            while true {
                guard i < end else { return .failure(.syntax) }
                let b = s[i]
                if b == dquote { i += 1; break }
                if b == backslash {
                    guard i + 1 < end, s[i + 1] >= 32, s[i + 1] <= 126 else { return .failure(.syntax) }
                    i += 2
                } else {
                    guard SMTPSyntax.isQtext(b) else { return .failure(.syntax) }
                    i += 1
                }
            }
        } else {
            var atomLength = 0
            while i < end && s[i] != at && s[i] != gt {
                let b = s[i]
                if b == dot {
                    guard atomLength > 0 else { return .failure(.syntax) }
                    atomLength = 0
                } else {
                    guard SMTPSyntax.isAtext(b) else { return .failure(.syntax) }
                    atomLength += 1
                }
                i += 1
            }
            guard atomLength > 0 else { return .failure(.syntax) }
        }
        let localEnd = i
        guard i < end else { return .failure(.syntax) }

        let domainStart: Int
        let domainEnd: Int
        if s[i] == gt {
            // "<Postmaster>" without a domain (RFC 5321 4.1.1.3), recipients only.
            guard !nullAllowed, SMTPSyntax.equalsIgnoringCase(s[localStart..<localEnd], "Postmaster") else {
                return .failure(.syntax)
            }
            domainStart = i
            domainEnd = i
        } else {
            guard s[i] == at else { return .failure(.syntax) }
            i += 1
            domainStart = i
            while i < end && s[i] != gt { i += 1 }
            guard i < end else { return .failure(.syntax) }
            domainEnd = i
            let domain = s[domainStart..<domainEnd]
            let valid = domain.first == UInt8(ascii: "[")
                ? SMTPSyntax.isAddressLiteral(domain) : SMTPSyntax.isDomain(domain)
            guard valid else { return .failure(.syntax) }
        }
        let pathEnd = i + 1
        if pathEnd - start > SMTPPath.maximumLength { return .failure(.pathTooLong) }
        if localEnd - localStart > SMTPPath.maximumLocalPartLength { return .failure(.localPartTooLong) }
        guard let local = SMTPSyntax.string(s[localStart..<localEnd]),
              let domain = SMTPSyntax.string(s[domainStart..<domainEnd]) else {
            return .failure(.syntax)
        }
        return .success((SMTPPath(localPart: local, domain: domain), pathEnd))
    }
}
