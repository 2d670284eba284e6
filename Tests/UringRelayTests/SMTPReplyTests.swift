import Testing
@testable import UringRelay

@Suite struct SMTPReplyTests {
    static func text(_ r: SMTPReply) -> String { String(decoding: r.bytes, as: UTF8.self) }

    @Test func singleLine() {
        #expect(Self.text(SMTPReply(code: 250, enhanced: "2.1.0", "Ok")) == "250 2.1.0 Ok\r\n")
        #expect(Self.text(SMTPReply(code: 250, "mail.example.org")) == "250 mail.example.org\r\n")
        #expect(Self.text(SMTPReply(code: 354, "End data with <CR><LF>.<CR><LF>")) == "354 End data with <CR><LF>.<CR><LF>\r\n")
    }

    @Test func multiLine() {
        let r = SMTPReply(code: 250, lines: ["first", "second", "last"])
        #expect(Self.text(r) == "250-first\r\n250-second\r\n250 last\r\n")
        let e = SMTPReply(code: 550, enhanced: "5.7.1", lines: ["one", "two"])
        #expect(Self.text(e) == "550-5.7.1 one\r\n550 5.7.1 two\r\n")
        let ehlo = SMTPReply.ehlo("relay.example", capabilities: ["PIPELINING", "SIZE 10485760", "8BITMIME"])
        #expect(Self.text(ehlo) == "250-relay.example\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250 8BITMIME\r\n")
    }

    @Test func emptyText() {
        #expect(Self.text(SMTPReply(code: 250, lines: [])) == "250\r\n")
        #expect(Self.text(SMTPReply(code: 250, "")) == "250\r\n")
        #expect(Self.text(SMTPReply(code: 250, enhanced: "2.0.0", "")) == "250 2.0.0\r\n")
        #expect(Self.text(SMTPReply(code: 250, lines: ["", "x"])) == "250-\r\n250 x\r\n")
    }

    @Test func textNeverCarriesLineEndings() {
        let r = SMTPReply.syntax("bad\r\n250 injected\nx\rz\u{0}")
        #expect(Self.text(r) == "501 5.5.4 bad  250 injected x z \r\n")
        // Mutated after construction: still sanitized on output.
        var m = SMTPReply.ok()
        m.lines = ["a\r\nb", "c"]
        m.enhanced = "2.0.0\r\n"
        #expect(Self.text(m) == "250-2.0.0   a  b\r\n250 2.0.0   c\r\n")
        let bytes = m.bytes
        for (i, b) in bytes.enumerated() where b == 10 {
            #expect(i > 0 && bytes[i - 1] == 13)
        }
        #expect(bytes.filter { $0 == 13 }.count == 2)
        #expect(Self.text(SMTPReply.unknownParameter("X\r\nY")) == "555 5.5.4 Unsupported parameter X  Y\r\n")
    }

    @Test func utf8TextIsKept() {
        #expect(Self.text(SMTPReply(code: 250, enhanced: "2.1.5", "<用户@例子.广告> ok")) == "250 2.1.5 <用户@例子.广告> ok\r\n")
    }

    static let named: [(SMTPReply, Int, String?)] = [
        (.ok(), 250, "2.0.0"),
        (.senderOK(), 250, "2.1.0"),
        (.recipientOK(), 250, "2.1.5"),
        (.vrfy, 252, "2.1.5"),
        (.help, 214, "2.0.0"),
        (.serviceReady("relay.example"), 220, nil),
        (.closing(), 221, "2.0.0"),
        (.helo("relay.example"), 250, nil),
        (.startMailInput, 354, nil),
        (.unknownCommand, 500, "5.5.2"),
        (.lineTooLong, 500, "5.5.2"),
        (.bareLineEnding, 500, "5.5.2"),
        (.bareLineEndingInData, 550, "5.5.2"),
        (.dataLineTooLong, 550, "5.5.2"),
        (.syntax("x"), 501, "5.5.4"),
        (.badSenderSyntax(), 501, "5.1.7"),
        (.badRecipientSyntax(), 501, "5.1.3"),
        (.notImplemented, 502, "5.5.1"),
        (.badSequence(), 503, "5.5.1"),
        (.noValidRecipients, 554, "5.5.1"),
        (.unknownParameter("FOO"), 555, "5.5.4"),
        (.sizeExceeded, 552, "5.3.4"),
        (.tooManyRecipients, 452, "4.5.3"),
        (.relayDenied, 554, "5.7.1"),
        (.smtputf8Required, 553, "5.6.7"),
        (.upstreamFailed(), 451, "4.4.2"),
        (.localError(), 451, "4.3.0"),
        (.serviceUnavailable("relay.example"), 421, "4.3.2"),
    ]

    @Test(arguments: named)
    func namedReplies(_ reply: SMTPReply, _ code: Int, _ enhanced: String?) {
        #expect(reply.code == code)
        #expect(reply.enhanced == enhanced)
        let t = Self.text(reply)
        #expect(t.hasPrefix("\(code) " + (enhanced.map { "\($0) " } ?? "")))
        #expect(t.hasSuffix("\r\n"))
    }

    @Test func lineTooLongText() {
        #expect(Self.text(.lineTooLong) == "500 5.5.2 Line too long\r\n")
    }

    @Test func classes() {
        #expect(SMTPReply.ok().isPositive)
        #expect(SMTPReply.startMailInput.isPositive)
        #expect(SMTPReply.tooManyRecipients.isTransient)
        #expect(SMTPReply.relayDenied.isPermanent)
    }
}
