import Testing
@testable import UringRelay

@Suite struct SMTPCommandParserTests {
    static func path(_ local: String, _ domain: String) -> SMTPPath {
        SMTPPath(localPart: local, domain: domain)
    }

    static func mail(_ p: SMTPPath?, _ params: MailParameters = MailParameters()) -> SMTPCommand {
        .mail(reversePath: p, parameters: params)
    }

    static func rcpt(_ p: SMTPPath) -> SMTPCommand {
        .rcpt(forwardPath: p, parameters: [:])
    }

    static let longLocal = String(repeating: "l", count: 64)
    static let tooLongLocal = String(repeating: "l", count: 65)
    /// 4 labels of 60 + dots = 243 octets: a valid domain, but the path goes over 256 with a long local part.
    static let longDomain = Array(repeating: String(repeating: "d", count: 60), count: 4).joined(separator: ".")

    static let accepted: [(String, SMTPCommand)] = [
        // EHLO / HELO
        ("EHLO example.com", .ehlo("example.com")),
        ("ehlo Example.COM", .ehlo("Example.COM")),
        ("EhLo mail.example.org  ", .ehlo("mail.example.org")),
        ("EHLO  spaced.example", .ehlo("spaced.example")),
        ("HELO mail.example.org", .helo("mail.example.org")),
        ("EHLO localhost", .ehlo("localhost")),
        ("EHLO my_pc", .ehlo("my_pc")),
        ("EHLO [192.0.2.1]", .ehlo("[192.0.2.1]")),
        ("HELO [127.0.0.1]", .helo("[127.0.0.1]")),
        ("EHLO [IPv6:2001:db8::1]", .ehlo("[IPv6:2001:db8::1]")),
        ("EHLO [ipv6:2001:db8::1]", .ehlo("[ipv6:2001:db8::1]")),
        ("EHLO [IPV6:::1]", .ehlo("[IPV6:::1]")),
        ("EHLO [IPv6:::]", .ehlo("[IPv6:::]")),
        ("EHLO [IPv6:1:2:3:4:5:6:7:8]", .ehlo("[IPv6:1:2:3:4:5:6:7:8]")),
        ("EHLO [IPv6:1::]", .ehlo("[IPv6:1::]")),
        ("EHLO [IPv6:::ffff:192.0.2.1]", .ehlo("[IPv6:::ffff:192.0.2.1]")),
        ("EHLO [IPv6:1:2:3:4:5:6:192.0.2.1]", .ehlo("[IPv6:1:2:3:4:5:6:192.0.2.1]")),
        ("EHLO [IPv6:FE80::ABCD]", .ehlo("[IPv6:FE80::ABCD]")),

        // MAIL
        ("MAIL FROM:<a@example.org>", mail(path("a", "example.org"))),
        ("mail from:<a@example.org>", mail(path("a", "example.org"))),
        ("Mail From:<a@example.org>", mail(path("a", "example.org"))),
        ("MAIL FROM: <a@example.org>", mail(path("a", "example.org"))),
        ("MAIL FROM:<a@example.org>   ", mail(path("a", "example.org"))),
        ("MAIL FROM:<>", mail(nil)),
        ("MAIL FROM: <>", mail(nil)),
        ("MAIL FROM:<> SIZE=1000", mail(nil, MailParameters(size: 1000, raw: [("SIZE", "1000")]))),
        ("MAIL FROM:<a@example.org> BODY=8BITMIME",
         mail(path("a", "example.org"), MailParameters(body: .eightBitMIME, raw: [("BODY", "8BITMIME")]))),
        ("MAIL FROM:<a@example.org> SIZE=1000 BODY=8BITMIME",
         mail(path("a", "example.org"),
              MailParameters(size: 1000, body: .eightBitMIME, raw: [("SIZE", "1000"), ("BODY", "8BITMIME")]))),
        ("MAIL FROM:<a@example.org>  BODY=7bit   size=0",
         mail(path("a", "example.org"), MailParameters(size: 0, body: .sevenBit, raw: [("BODY", "7bit"), ("size", "0")]))),
        ("MAIL FROM:<a@example.org> SIZE=999999999999",
         mail(path("a", "example.org"), MailParameters(size: 999_999_999_999, raw: [("SIZE", "999999999999")]))),
        ("MAIL FROM:<a@example.org> SIZE=99999999999999999999",
         mail(path("a", "example.org"), MailParameters(size: Int.max, raw: [("SIZE", "99999999999999999999")]))),
        ("MAIL FROM:<a@example.org> SMTPUTF8",
         mail(path("a", "example.org"), MailParameters(smtputf8: true, raw: [("SMTPUTF8", nil)]))),
        ("MAIL FROM:<用户@例子.广告> SMTPUTF8",
         mail(path("用户", "例子.广告"), MailParameters(smtputf8: true, raw: [("SMTPUTF8", nil)]))),
        ("MAIL FROM:<@a.example,@b.example:user@c.example>", mail(path("user", "c.example"))),
        ("MAIL FROM:<@a.example:user@c.example>", mail(path("user", "c.example"))),
        ("MAIL FROM:<user@[192.0.2.1]>", mail(path("user", "[192.0.2.1]"))),
        ("MAIL FROM:<user@[IPv6:2001:db8::1]>", mail(path("user", "[IPv6:2001:db8::1]"))),
        ("MAIL FROM:<first.last+tag@sub.example.org>", mail(path("first.last+tag", "sub.example.org"))),
        ("MAIL FROM:<!#$%&'*+-/=?^_`{|}~@example.org>", mail(path("!#$%&'*+-/=?^_`{|}~", "example.org"))),
        ("MAIL FROM:<\"odd user\"@example.com>", mail(path("\"odd user\"", "example.com"))),
        ("MAIL FROM:<\(longLocal)@example.org>", mail(path(longLocal, "example.org"))),

        // RCPT
        ("RCPT TO:<v@example.net>", rcpt(path("v", "example.net"))),
        ("rcpt to:<v@example.net>", rcpt(path("v", "example.net"))),
        ("RCPT TO: <v@example.net>", rcpt(path("v", "example.net"))),
        ("RCPT TO:<\"odd user\"@example.com>", rcpt(path("\"odd user\"", "example.com"))),
        ("RCPT TO:<\"a\\\"b\\\\c\"@example.com>", rcpt(path("\"a\\\"b\\\\c\"", "example.com"))),
        ("RCPT TO:<\"<>@,;: \"@example.com>", rcpt(path("\"<>@,;: \"", "example.com"))),
        ("RCPT TO:<\"\"@example.com>", rcpt(path("\"\"", "example.com"))),
        ("RCPT TO:<Postmaster>", rcpt(path("Postmaster", ""))),
        ("RCPT TO:<postmaster>", rcpt(path("postmaster", ""))),
        ("RCPT TO:<@relay.example:v@example.net>", rcpt(path("v", "example.net"))),
        ("RCPT TO:<δοκιμή@παράδειγμα.δοκιμή>", rcpt(path("δοκιμή", "παράδειγμα.δοκιμή"))),

        // The rest
        ("DATA", .data),
        ("data", .data),
        ("DATA ", .data),
        ("BDAT 9 LAST", .bdat(size: 9, last: true)),
        ("bdat 0 last", .bdat(size: 0, last: true)),
        ("BDAT 100", .bdat(size: 100, last: false)),
        ("BDAT  100  LAST ", .bdat(size: 100, last: true)),
        ("BDAT 9223372036854775807", .bdat(size: Int.max, last: false)),
        ("RSET", .rset),
        ("rset", .rset),
        ("NOOP", .noop),
        ("NOOP anything at all", .noop),
        ("QUIT", .quit),
        ("quit", .quit),
        ("HELP", .help),
        ("HELP MAIL", .help),
        ("VRFY postmaster", .vrfy("postmaster")),
        ("vrfy <a@example.org>", .vrfy("<a@example.org>")),
    ]

    @Test(arguments: accepted)
    func accepts(_ line: String, _ expected: SMTPCommand) {
        #expect(SMTPCommandParser.parse(line) == .success(expected), "\(line)")
        // The byte entry points agree, including on a slice that does not start at index 0.
        #expect(SMTPCommandParser.parse(Array(line.utf8)) == .success(expected))
        let padded = Array("xx\(line)".utf8)
        #expect(SMTPCommandParser.parse(padded[2...]) == .success(expected))
    }

    static let rejected: [(String, Int, String)] = [
        // Verbs
        ("", 500, "5.5.2"),
        ("FOO", 500, "5.5.2"),
        ("MAILX FROM:<a@example.org>", 500, "5.5.2"),
        ("MAIL2 FROM:<a@example.org>", 500, "5.5.2"),
        (" MAIL FROM:<a@example.org>", 500, "5.5.2"),
        ("EHLO\texample.com", 500, "5.5.2"),
        ("EXPN staff", 502, "5.5.1"),
        ("STARTTLS", 502, "5.5.1"),
        ("AUTH PLAIN", 502, "5.5.1"),
        ("TURN", 502, "5.5.1"),

        // EHLO / HELO
        ("EHLO", 501, "5.5.4"),
        ("EHLO ", 501, "5.5.4"),
        ("HELO", 501, "5.5.4"),
        ("EHLO [2001:db8::1]", 501, "5.5.4"),
        ("EHLO [256.1.1.1]", 501, "5.5.4"),
        ("EHLO [1.2.3]", 501, "5.5.4"),
        ("EHLO [1.2.3.4.5]", 501, "5.5.4"),
        ("EHLO [1.2.3.4", 501, "5.5.4"),
        ("EHLO []", 501, "5.5.4"),
        ("EHLO [IPv6:]", 501, "5.5.4"),
        ("EHLO [IPv6:2001:db8:::1]", 501, "5.5.4"),
        ("EHLO [IPv6:2001::db8::1]", 501, "5.5.4"),
        ("EHLO [IPv6:1:2:3:4:5:6:7:8:9]", 501, "5.5.4"),
        ("EHLO [IPv6:1:2:3:4:5:6:7]", 501, "5.5.4"),
        ("EHLO [IPv6:1:2:3:4:5:6:7::8]", 501, "5.5.4"),
        ("EHLO [IPv6:12345::1]", 501, "5.5.4"),
        ("EHLO [IPv6:g::1]", 501, "5.5.4"),
        ("EHLO [IPv6:1:]", 501, "5.5.4"),
        ("EHLO [IPv6::1]", 501, "5.5.4"),
        ("EHLO [IPv6:192.0.2.1]", 501, "5.5.4"),
        ("EHLO [IPv6:::1.2.3]", 501, "5.5.4"),
        ("EHLO [IPv6:::1.2.3.4:5]", 501, "5.5.4"),
        ("EHLO [foo:bar]", 501, "5.5.4"),
        ("EHLO -bad.example", 501, "5.5.4"),
        ("EHLO bad-.example", 501, "5.5.4"),
        ("EHLO a..b", 501, "5.5.4"),
        ("EHLO .example", 501, "5.5.4"),
        ("EHLO example.", 501, "5.5.4"),
        ("EHLO exa mple", 501, "5.5.4"),
        ("EHLO ex@mple", 501, "5.5.4"),
        ("EHLO \(String(repeating: "a", count: 64)).example", 501, "5.5.4"),

        // MAIL
        ("MAIL", 501, "5.5.4"),
        ("MAIL FROM:", 501, "5.5.4"),
        ("MAIL FROM: ", 501, "5.5.4"),
        ("MAIL TO:<a@example.org>", 501, "5.5.4"),
        ("MAIL FROM <a@example.org>", 501, "5.5.4"),
        ("MAIL FROM:a@example.org", 501, "5.1.7"),
        ("MAIL FROM:<a@example.org", 501, "5.1.7"),
        ("MAIL FROM:<a@@example.org>", 501, "5.1.7"),
        ("MAIL FROM:<@example.org>", 501, "5.1.7"),
        ("MAIL FROM:<a@>", 501, "5.1.7"),
        ("MAIL FROM:<a>", 501, "5.1.7"),
        ("MAIL FROM:<Postmaster>", 501, "5.1.7"),
        ("MAIL FROM:<.a@example.org>", 501, "5.1.7"),
        ("MAIL FROM:<a.@example.org>", 501, "5.1.7"),
        ("MAIL FROM:<a..b@example.org>", 501, "5.1.7"),
        ("MAIL FROM:<a b@example.org>", 501, "5.1.7"),
        ("MAIL FROM:<a(b)@example.org>", 501, "5.1.7"),
        ("MAIL FROM:<a@example..org>", 501, "5.1.7"),
        ("MAIL FROM:<a@-example.org>", 501, "5.1.7"),
        ("MAIL FROM:<a@[2001:db8::1]>", 501, "5.1.7"),
        ("MAIL FROM:<a@[300.1.1.1]>", 501, "5.1.7"),
        ("MAIL FROM:<\"unterminated@example.com>", 501, "5.1.7"),
        ("MAIL FROM:<\"a\"b@example.com>", 501, "5.1.7"),
        ("MAIL FROM:<@a.example user@c.example>", 501, "5.1.7"),
        ("MAIL FROM:<@a.example,user@c.example>", 501, "5.1.7"),
        ("MAIL FROM:<@:user@c.example>", 501, "5.1.7"),
        ("MAIL FROM:<a@example.org>SIZE=1", 501, "5.1.7"),
        ("MAIL FROM:<a@example.org>>", 501, "5.1.7"),
        ("MAIL FROM:<<a@example.org>", 501, "5.1.7"),
        ("MAIL FROM:<\(tooLongLocal)@example.org>", 553, "5.1.7"),
        ("MAIL FROM:<\(longLocal)@\(longDomain)>", 501, "5.1.7"),
        ("MAIL FROM:<a@example.org> SIZE=1 SIZE=2", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> SIZE=1 size=1", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> BODY=7BIT BODY=8BITMIME", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> SMTPUTF8 SMTPUTF8", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> SIZE=abc", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> SIZE=", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> SIZE", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> SIZE=-1", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> SIZE=1e3", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> SIZE==1", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> BODY=9BIT", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> BODY", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> SMTPUTF8=yes", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> =x", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> -X=1", 501, "5.5.4"),
        ("MAIL FROM:<a@example.org> FOO=bar", 555, "5.5.4"),
        // BINARYMIME is not advertised: unsupported like any other parameter.
        ("MAIL FROM:<a@example.org> body=BinaryMIME", 555, "5.5.4"),
        ("MAIL FROM:<a@example.org> AUTH=<>", 555, "5.5.4"),
        ("MAIL FROM:<a@example.org> RET=HDRS", 555, "5.5.4"),
        ("MAIL FROM:<a@example.org> SIZE=10 X-FOO", 555, "5.5.4"),

        // RCPT
        ("RCPT", 501, "5.5.4"),
        ("RCPT TO:", 501, "5.5.4"),
        ("RCPT FROM:<v@example.net>", 501, "5.5.4"),
        ("RCPT TO:<>", 501, "5.1.3"),
        ("RCPT TO:v@example.net", 501, "5.1.3"),
        ("RCPT TO:<v@example.net", 501, "5.1.3"),
        ("RCPT TO:<v@example.net>x", 501, "5.1.3"),
        ("RCPT TO:<postmaster@>", 501, "5.1.3"),
        ("RCPT TO:<webmaster>", 501, "5.1.3"),
        ("RCPT TO:<\(tooLongLocal)@example.net>", 553, "5.1.3"),
        ("RCPT TO:<\(longLocal)@\(longDomain)>", 501, "5.1.3"),
        ("RCPT TO:<v@example.net> NOTIFY=NEVER", 555, "5.5.4"),
        ("RCPT TO:<v@example.net> ORCPT=rfc822;v@example.net", 555, "5.5.4"),
        ("RCPT TO:<v@example.net> =bad", 501, "5.5.4"),

        // DATA, BDAT, RSET, QUIT, VRFY
        ("DATA x", 501, "5.5.4"),
        ("RSET now", 501, "5.5.4"),
        ("QUIT now", 501, "5.5.4"),
        ("VRFY", 501, "5.5.4"),
        ("BDAT", 501, "5.5.4"),
        ("BDAT x", 501, "5.5.4"),
        ("BDAT -1", 501, "5.5.4"),
        ("BDAT +1", 501, "5.5.4"),
        ("BDAT 1 FIRST", 501, "5.5.4"),
        ("BDAT 1 LAST x", 501, "5.5.4"),
        ("BDAT LAST", 501, "5.5.4"),
        ("BDAT 9223372036854775808", 501, "5.5.4"),
        ("BDAT 99999999999999999999", 501, "5.5.4"),
    ]

    @Test(arguments: rejected)
    func rejects(_ line: String, _ code: Int, _ enhanced: String) {
        let result = SMTPCommandParser.parse(line)
        guard case .failure(let reply) = result else {
            Issue.record("\(line): expected \(code) \(enhanced), got \(result)")
            return
        }
        #expect(reply.code == code, "\(line): \(reply)")
        #expect(reply.enhanced == enhanced, "\(line): \(reply)")
        #expect(!reply.bytes.dropLast(2).contains(13) && !reply.bytes.dropLast(2).contains(10))
    }

    static let badBytes: [(String, [UInt8], Int, String)] = [
        ("NUL after the path", Array("MAIL FROM:<a@example.org>".utf8) + [0], 501, "5.5.4"),
        ("NUL in the local part", Array("MAIL FROM:<a".utf8) + [0] + Array("b@example.org>".utf8), 501, "5.5.4"),
        ("stray CR", Array("NOOP".utf8) + [13], 501, "5.5.4"),
        ("DEL", Array("EHLO a".utf8) + [0x7F], 501, "5.5.4"),
        ("invalid UTF-8 local part", Array("MAIL FROM:<".utf8) + [0xC3, 0x28] + Array("@example.org>".utf8), 501, "5.1.7"),
        ("invalid UTF-8 domain", Array("RCPT TO:<a@".utf8) + [0xFF] + Array(".example>".utf8), 501, "5.1.3"),
        ("invalid UTF-8 EHLO", Array("EHLO ".utf8) + [0xE2, 0x82], 501, "5.5.4"),
        ("invalid UTF-8 parameter value", Array("MAIL FROM:<a@example.org> SIZE=1 BODY=".utf8) + [0xFF], 501, "5.5.4"),
    ]

    @Test(arguments: badBytes)
    func rejectsBadBytes(_ name: String, _ line: [UInt8], _ code: Int, _ enhanced: String) {
        guard case .failure(let reply) = SMTPCommandParser.parse(line) else {
            Issue.record("\(name): accepted")
            return
        }
        #expect(reply.code == code, "\(name): \(reply)")
        #expect(reply.enhanced == enhanced, "\(name): \(reply)")
    }

    @Test func pathLengthLimitIsInclusiveOf256() throws {
        // "<" + local(64) + "@" + domain + ">" == 256 exactly is fine; one more octet is not.
        let domain189 = [String(repeating: "d", count: 63), String(repeating: "d", count: 63),
                         String(repeating: "d", count: 61)].joined(separator: ".")
        #expect(domain189.utf8.count == 189)
        let local = Self.longLocal
        let ok = "RCPT TO:<\(local)@\(domain189)>"
        #expect(("<\(local)@\(domain189)>").utf8.count == 256)
        #expect(SMTPCommandParser.parse(ok) == .success(Self.rcpt(Self.path(local, domain189))))
        let over = "RCPT TO:<\(local)@\(domain189)d>"
        guard case .failure(let reply) = SMTPCommandParser.parse(over) else {
            Issue.record("257-octet path accepted")
            return
        }
        #expect(reply.code == 501)
        #expect(reply.lines == ["Path too long"])
    }

    /// cases/smtp.md: envelope forms are forwarded as written.
    @Test func forwardedForms() throws {
        guard case .mail(let nullSender, let p0) = try SMTPCommandParser.parse("MAIL FROM:<>").get() else {
            Issue.record("not MAIL"); return
        }
        #expect(nullSender == nil)
        #expect(nullSender?.text ?? "<>" == "<>")
        #expect(p0.text == "")

        guard case .rcpt(let odd, _) = try SMTPCommandParser.parse("RCPT TO:<\"odd user\"@example.com>").get() else {
            Issue.record("not RCPT"); return
        }
        #expect(odd.text == "<\"odd user\"@example.com>")
        #expect(odd.localPart == "\"odd user\"")
        #expect(odd.domain == "example.com")
        #expect(!odd.needsSMTPUTF8)

        guard case .mail(let routed, let params) =
                try SMTPCommandParser.parse("mail from: <@a.example,@b.example:User@C.example> size=1000 Body=8bitmime").get() else {
            Issue.record("not MAIL"); return
        }
        #expect(routed?.text == "<User@C.example>")
        #expect(params.text == "size=1000 Body=8bitmime")
        #expect(params.size == 1000)
        #expect(params.body == .eightBitMIME)

        guard case .rcpt(let pm, _) = try SMTPCommandParser.parse("RCPT TO:<Postmaster>").get() else {
            Issue.record("not RCPT"); return
        }
        #expect(pm.isPostmaster)
        #expect(pm.text == "<Postmaster>")

        guard case .mail(let utf8, _) = try SMTPCommandParser.parse("MAIL FROM:<用户@例子.广告>").get() else {
            Issue.record("not MAIL"); return
        }
        #expect(utf8?.needsSMTPUTF8 == true)
        #expect(utf8?.text == "<用户@例子.广告>")
    }

    @Test func sizeOverTheLimitIsTheCallersDecision() throws {
        guard case .mail(_, let params) =
                try SMTPCommandParser.parse("MAIL FROM:<a@example.org> SIZE=999999999999").get() else {
            Issue.record("not MAIL"); return
        }
        let limit = 10 << 20
        #expect((params.size ?? 0) > limit)
        #expect(SMTPReply.sizeExceeded.code == 552 && SMTPReply.sizeExceeded.enhanced == "5.3.4")
    }

    @Test func mailParametersEquality() {
        let a = MailParameters(size: 1, raw: [("SIZE", "1")])
        #expect(a == MailParameters(size: 1, raw: [("SIZE", "1")]))
        #expect(a != MailParameters(size: 1, raw: [("size", "1")]))
        #expect(a != MailParameters(size: 1, raw: []))
        #expect(MailParameters(raw: [("SMTPUTF8", nil)]) != MailParameters(raw: [("SMTPUTF8", "")]))
    }
}
