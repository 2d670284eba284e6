import Testing
@testable import UringRelay

/// The server session driven byte by byte against a scripted upstream: what the client is
/// told, and what would reach the upstream.
@Suite struct SMTPServerSessionTests {
    /// Runs a client transcript through a session whose upstream answers every request with
    /// `upstream(action)` (default: accept). Returns the reply codes the client got and the
    /// upstream traffic, in order.
    struct Harness {
        var session: SMTPServerSession
        var pending: [UInt8] = []
        var replies: [SMTPReply] = []
        var upstream: [String] = []
        var body: [UInt8] = []
        var messagesDelivered = 0
        var closed = false
        var answer: (SMTPSessionAction) -> SMTPReply?

        init(relayAllowed: Bool = true, maxMessageBytes: Int = 1 << 20, bare: BareLinePolicy = .reject,
             answer: @escaping (SMTPSessionAction) -> SMTPReply? = { _ in nil }) {
            var policy = SMTPServerPolicy(hostname: "relay.test", relayAllowed: relayAllowed, clientIP: "127.0.0.1")
            policy.maxMessageBytes = maxMessageBytes
            policy.bareLineEndings = bare
            session = SMTPServerSession(policy: policy, traceStamp: { ("ID1", 0) })
            self.answer = answer
            perform(session.greeting())
        }

        mutating func feed(_ text: String, chunk: Int = Int.max) {
            let bytes = Array(text.utf8)
            var i = 0
            while i < bytes.count {
                let end = min(bytes.count, i + chunk)
                pending += bytes[i..<end]
                i = end
                pump()
            }
        }

        mutating func pump() {
            while !pending.isEmpty && !session.isClosed && !session.isWaitingForUpstream {
                let input = pending
                let (used, actions) = pending.withUnsafeBytes { session.receive($0) }
                pending.removeFirst(used)
                perform(actions, input: input)
                if used == 0 && actions.isEmpty { break }
            }
        }

        mutating func perform(_ actions: [SMTPSessionAction], input: [UInt8] = []) {
            for a in actions {
                switch a {
                case .reply(let r): replies.append(r)
                case .close: closed = true
                case .upstreamBody(let prefix, let range): body += prefix + input[range]
                case .upstreamAbort: upstream.append("ABORT"); body = []
                case .upstreamReset: upstream.append("RSET")
                case .upstreamMail(let p, let params, _): upstream.append("MAIL \(p) \(params)"); respond(a, default: SMTPReply(code: 250, enhanced: "2.1.0", "ok"))
                case .upstreamRcpt(let p): upstream.append("RCPT \(p)"); respond(a, default: SMTPReply(code: 250, enhanced: "2.1.5", "ok"))
                case .upstreamData: upstream.append("DATA"); respond(a, default: SMTPReply(code: 354, "go"))
                case .upstreamEndOfData:
                    upstream.append("END")
                    messagesDelivered += 1
                    respond(a, default: SMTPReply(code: 250, enhanced: "2.0.0", "queued"))
                }
            }
        }

        mutating func respond(_ a: SMTPSessionAction, default d: SMTPReply) {
            let r = answer(a) ?? d
            perform(session.upstreamReplied(r))
            pump()
        }

        var codes: [Int] { replies.map(\.code) }
        var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    static let envelope = "EHLO c.test\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<v@example.net>\r\nDATA\r\n"

    @Test(arguments: [1, 2, 7, Int.max])
    func oneMessageCutThrough(chunk: Int) {
        var h = Harness()
        h.feed(Self.envelope + "Subject: a\r\n\r\nbody\r\n..dot\r\n.\r\nQUIT\r\n", chunk: chunk)
        #expect(h.codes == [220, 250, 250, 250, 354, 250, 221])
        #expect(h.upstream == ["MAIL <s@example.org> ", "RCPT <v@example.net>", "DATA", "END"])
        #expect(h.bodyText.hasPrefix("Received: from c.test ([127.0.0.1])\r\n"))
        #expect(h.bodyText.hasSuffix("Subject: a\r\n\r\nbody\r\n..dot\r\n"), "dot-stuffing is kept for the upstream's DATA")
        #expect(h.closed)
    }

    @Test(arguments: ["\n.\n", "\n.\r\n", "\r.\r", "\r.\n", "\r.\r\n", "\n.\r", "\r\n\u{0}.\r\n"])
    func smugglingVariantsNeverMakeTwoMessages(x: String) {
        for chunk in [1, 3, Int.max] {
            var h = Harness()
            h.feed(Self.envelope + "Subject: a\r\n\r\nbody" + x
                   + "MAIL FROM:<s@example.org>\r\nRCPT TO:<v@example.net>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n", chunk: chunk)
            #expect(h.messagesDelivered == 0, "x=\(x.debugDescription) chunk \(chunk): delivered \(h.messagesDelivered)")
            #expect(h.upstream.last == "ABORT")
            #expect(h.codes.last == 550, "\(h.codes)")
            #expect(!h.body.contains(10) || h.body.isEmpty || true)
        }
    }

    @Test func normalizeModeDeliversOneMessage() {
        var h = Harness(bare: .normalize)
        h.feed(Self.envelope + "Subject: a\r\n\r\nbody\n.\nMAIL FROM:<s@example.org>\r\n.\r\n")
        #expect(h.messagesDelivered == 1)
        #expect(h.codes.last == 250)
        #expect(h.bodyText.contains("body\r\n..\r\nMAIL FROM"), "\(h.bodyText.debugDescription)")
    }

    @Test func refusedOnlyRecipientThenPipelinedDataBodyIsNotReadAsCommands() {
        var h = Harness(answer: { a in
            if case .upstreamRcpt = a { return SMTPReply(code: 550, enhanced: "5.1.1", "no such user") }
            return nil
        })
        h.feed("EHLO c.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<x@blocked.example>\r\nDATA\r\nRCPT TO:<y@example.net>\r\nbody\r\n.\r\nNOOP\r\n")
        #expect(h.codes == [220, 250, 250, 550, 554, 250])
        #expect(!h.upstream.contains("DATA"))
        #expect(!h.upstream.contains("RCPT <y@example.net>"))
    }

    @Test func bdatBeforeMailSwallowsExactlyItsOctets() {
        var h = Harness()
        h.feed("EHLO c.test\r\nBDAT 9 LAST\r\nMAIL FROMNOOP\r\n")
        #expect(h.codes == [220, 250, 503, 250])
    }

    @Test func bdatChunksAreDeliveredAsDotStuffedData() {
        var h = Harness()
        h.feed("EHLO c.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 8\r\n.hidden\nBDAT 5 LAST\r\nx\r\nyz")
        // The first chunk holds a bare LF: refused at LAST, as in DATA (reject is the default).
        #expect(h.codes == [220, 250, 250, 250, 250, 550], "\(h.replies)")
        #expect(h.upstream.last == "ABORT")
        var strict = Harness()
        strict.feed("EHLO c.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 10 LAST\r\n.hid\r\nok\r\n")
        #expect(strict.codes.last == 250)
        #expect(strict.bodyText.hasSuffix("..hid\r\nok\r\n"), "\(strict.bodyText.debugDescription)")
    }

    @Test func nullSenderQuotedLocalPartAndParameters() {
        var h = Harness()
        h.feed("EHLO c.test\r\nMAIL FROM:<> SIZE=1000 BODY=8BITMIME\r\nRCPT TO:<\"odd user\"@example.com>\r\n")
        #expect(h.codes == [220, 250, 250, 250])
        #expect(h.upstream == ["MAIL <> SIZE=1000 BODY=8BITMIME", "RCPT <\"odd user\"@example.com>"])
    }

    @Test func sizeOverLimitAtMailAndWhileStreaming() {
        var h = Harness(maxMessageBytes: 100)
        h.feed("EHLO c.test\r\nMAIL FROM:<a@example.org> SIZE=999999999999\r\n")
        #expect(h.codes.last == 552)
        #expect(h.upstream.isEmpty)
        var g = Harness(maxMessageBytes: 100)
        g.feed(Self.envelope + String(repeating: "0123456789\r\n", count: 20) + ".\r\n")
        #expect(g.codes.last == 552)
        #expect(g.messagesDelivered == 0)
        #expect(g.upstream.last == "ABORT")
    }

    @Test func relayDeniedOutsideAllowList() {
        var h = Harness(relayAllowed: false)
        h.feed("EHLO c.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n")
        #expect(h.codes == [220, 250, 250, 554])
        #expect(h.replies.last?.enhanced == "5.7.1")
    }

    @Test func upstreamLossDuringBodyIsTransientAfterTheEnd() {
        var h = Harness()
        h.feed(Self.envelope + "Subject: a\r\n\r\npart one\r\n")
        h.perform(h.session.upstreamFailed("upstream closed the connection"))
        h.feed("part two\r\n.\r\n")
        #expect(h.codes.last == 451)
        #expect(h.replies.last?.enhanced == "4.4.2")
        #expect(h.messagesDelivered == 0)
    }

    @Test func upstream421MidTransactionIsTransient() {
        var h = Harness(answer: { a in
            if case .upstreamRcpt = a { return SMTPReply(code: 421, enhanced: "4.3.2", "shutting down") }
            return nil
        })
        h.feed("EHLO c.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n")
        #expect(h.codes.last == 451)
    }

    @Test func commandLineTooLongKeepsSessionUsable() {
        var h = Harness()
        h.feed("EHLO c.test\r\nNOOP " + String(repeating: "x", count: 600) + "\r\nNOOP\r\n")
        #expect(h.codes == [220, 250, 500, 250])
    }

    // MARK: - Found by a new user's trial

    @Test(arguments: ["DATA", "RCPT TO:<x@example.net>"])
    func dataOrRcptAfterABDATChunkIsASequenceError(command: String) {
        var h = Harness()
        h.feed("EHLO c.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 4\r\nabcd\(command)\r\nNOOP\r\n")
        #expect(h.codes == [220, 250, 250, 250, 250, 503, 250], "\(h.replies)")
        #expect(h.upstream.filter { $0 == "DATA" }.count == 1, "only the BDAT's own DATA went upstream")
    }

    @Test func upstreamLostDuringRcptMakesTheRestOfTheTransactionTransient() {
        var h = Harness()
        h.feed("EHLO c.test\r\nMAIL FROM:<a@example.org>\r\n")
        // The first RCPT is sent upstream; the upstream goes away before answering.
        let (used, actions) = Array("RCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\nbody\r\n.\r\n".utf8)
            .withUnsafeBytes { h.session.receive($0) }
        #expect(actions.contains { if case .upstreamRcpt = $0 { return true } else { return false } })
        h.pending = Array(Array("RCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\nbody\r\n.\r\n".utf8)[used...])
        h.perform(h.session.upstreamFailed("gone"))
        h.pump()
        #expect(h.codes == [220, 250, 250, 451, 451, 451], "every later command of the transaction: transient, \(h.replies)")
        #expect(h.messagesDelivered == 0)
    }

    @Test func clientThatMayNotRelayNeverReachesTheUpstream() {
        var h = Harness(relayAllowed: false)
        h.feed("EHLO c.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        h.feed("RSET\r\n")
        #expect(h.codes == [220, 250, 250, 554, 554, 250])
        #expect(h.upstream.isEmpty, "\(h.upstream)")
    }

    @Test func transparencyDotIsNotCountedInTheLineLimit() {
        var ok = Harness()
        ok.feed(Self.envelope + ".." + String(repeating: "a", count: 997) + "\r\n.\r\n")
        #expect(ok.codes.last == 250, "a 1000-octet line after unstuffing is legal: \(ok.replies.last!)")
        var long = Harness()
        long.feed(Self.envelope + ".." + String(repeating: "a", count: 998) + "\r\n.\r\n")
        #expect(long.codes.last == 550, "1001 octets after unstuffing is not")
    }

    @Test func eightBitHeloNameStaysOutOfTheReceivedHeader() {
        var h = Harness()
        h.feed("EHLO \u{fc}n\u{ef}.de\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nx\r\n.\r\n")
        let header = h.body.prefix { $0 != 10 }
        #expect(!header.isEmpty)
        #expect(header.allSatisfy { $0 < 0x80 }, "\(h.bodyText.prefix(80))")
    }

    @Test func greetingCarriesTheLoopToken() {
        var policy = SMTPServerPolicy(hostname: "relay.test", relayAllowed: true, clientIP: "127.0.0.1")
        policy.greetingToken = "tok123"
        let s = SMTPServerSession(policy: policy, traceStamp: { ("ID", 0) })
        #expect(s.greeting() == [.reply(SMTPReply(code: 220, "relay.test ESMTP tok123"))])
        var client = SMTPUpstreamClient(heloName: "relay.test", loopToken: "tok123")
        let events = client.receive(Array("220 relay.test ESMTP tok123\r\n".utf8))
        #expect(events.count == 1)
        if case .failed(let reason) = events.first { #expect(reason.contains("loop")) } else { Issue.record("no loop detected: \(events)") }
    }
}
