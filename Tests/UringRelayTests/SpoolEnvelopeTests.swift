import Testing
@testable import UringRelay

@Suite struct SpoolEnvelopeTests {
    static let envelope = SpoolEnvelope(id: "HOQZ.0.1", arrivalUnixMs: 1_796_326_245_123, reversePath: "<a@example.org>",
                                        mailParameters: "BODY=8BITMIME SMTPUTF8",
                                        recipients: ["<x@example.net>", "<\"odd user\"@example.com>"])

    @Test func headerRoundTripsAndTheBodyStartsAfterTheEmptyLine() {
        let header = Self.envelope.encodedHeader()
        #expect(String(decoding: header, as: UTF8.self) == """
            uring-relay spool 1
            id HOQZ.0.1
            arrival-ms 1796326245123
            from <a@example.org>
            params BODY=8BITMIME SMTPUTF8
            rcpt <x@example.net>
            rcpt <"odd user"@example.com>


            """)
        let file = header + Array("Subject: x\r\n\r\nbody\r\n".utf8)
        #expect(SpoolEnvelope.parse(file) == .complete(Self.envelope, bodyOffset: header.count))
        #expect(Self.envelope.smtputf8)
    }

    @Test func everyPrefixOfTheHeaderAsksForMore() {
        let header = Self.envelope.encodedHeader()
        for n in 0..<header.count {
            #expect(SpoolEnvelope.parse(Array(header[0..<n])) == .needMore, "prefix of \(n) bytes")
        }
    }

    @Test(arguments: [
        ("uring-relay spool 2\nid a\n\n", "unsupported spool format"),
        ("garbage that is long enough\n\n", "not a spool file"),
        ("uring-relay spool 1\narrival-ms 1\nfrom <>\nrcpt <a@b>\n\n", "no id"),
        ("uring-relay spool 1\nid a\narrival-ms 1\nfrom <>\n\n", "no recipients"),
        ("uring-relay spool 1\nid a\narrival-ms 1\nfrom nobody\nrcpt <a@b>\n\n", "no valid from"),
    ])
    func invalidHeadersAreNamed(text: String, reason: String) {
        guard case .invalid(let why) = SpoolEnvelope.parse(Array(text.utf8)) else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(why.contains(reason), "\(why)")
    }

    @Test func unknownFieldsOfTheSameVersionAreIgnored() {
        let text = "uring-relay spool 1\nid a\narrival-ms 5\nfrom <>\nfuture-field x\nrcpt <a@b>\n\nbody"
        guard case .complete(let e, _) = SpoolEnvelope.parse(Array(text.utf8)) else {
            Issue.record("refused")
            return
        }
        #expect(e.id == "a" && e.reversePath == "<>" && e.recipients == ["<a@b>"] && e.mailParameters == "")
    }
}

@Suite struct SpoolProgressTests {
    @Test func roundTripWithErrorsAndStates() {
        var p = SpoolProgress(recipientCount: 3)
        p.attempts = 2
        p.nextAttemptUnixMs = 1234
        p.recipients[0] = .init(status: .delivered)
        p.recipients[1] = .init(status: .pending, lastError: "451 4.2.0 Mailbox\tbusy")
        p.recipients[2] = .init(status: .bounced, lastError: "550 5.1.1 gone")
        let parsed = SpoolProgress.parse(p.encoded(), recipientCount: 3)
        #expect(parsed?.attempts == 2 && parsed?.nextAttemptUnixMs == 1234)
        #expect(parsed?.recipients.map(\.status) == [.delivered, .pending, .bounced])
        #expect(parsed?.recipients[1].lastError == "451 4.2.0 Mailbox busy", "a tab cannot split the field")
        #expect(parsed?.pendingIndices == [1] && parsed?.isFinished == false)
        #expect(parsed?.lastError == "451 4.2.0 Mailbox busy")
    }

    @Test func foreignOrBrokenStateIsRefused() {
        #expect(SpoolProgress.parse(Array("uring-relay spool-state 9\n".utf8), recipientCount: 1) == nil)
        #expect(SpoolProgress.parse(Array("uring-relay spool-state 1\nrcpt\t5\tdelivered\n".utf8), recipientCount: 2) == nil)
        #expect(SpoolProgress.parse(Array("uring-relay spool-state 1\nrcpt\t0\tlost\n".utf8), recipientCount: 1) == nil)
    }
}
