import Testing
@testable import UringRelay

/// The upstream client state machine against scripted upstream bytes.
@Suite struct SMTPUpstreamClientTests {
    static let ehloAll = "250-sink.test\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n"
    static let ehloPlain = "250-sink.test\r\n250 ENHANCEDSTATUSCODES\r\n"

    /// What went to the upstream, as text, and the replies reported, in order.
    struct Run {
        var client = SMTPUpstreamClient(heloName: "relay.test")
        var sent = ""
        var replies: [SMTPReply] = []
        var failures: [String] = []

        mutating func take(_ events: [SMTPUpstreamEvent]) {
            for e in events {
                switch e {
                case .send(let b): sent += String(decoding: b, as: UTF8.self)
                case .replied(let r): replies.append(r)
                case .failed(let reason): failures.append(reason)
                }
            }
        }

        mutating func upstream(_ text: String, chunk: Int = Int.max) {
            let bytes = Array(text.utf8)
            var i = 0
            while i < bytes.count {
                let end = min(bytes.count, i + chunk)
                take(client.receive(Array(bytes[i..<end])))
                i = end
            }
        }

        mutating func ask(_ r: SMTPUpstreamRequest) { take(client.request(r)) }

        /// Greeted and EHLO'd with `ehlo`.
        static func ready(_ ehlo: String = SMTPUpstreamClientTests.ehloAll) -> Run {
            var run = Run()
            run.upstream("220 sink.test ESMTP\r\n")
            run.upstream(ehlo)
            run.sent = ""
            return run
        }
    }

    @Test func greetingThenEHLOThenQueuedMail() {
        var run = Run()
        run.ask(.mail(reversePath: "<a@example.org>", parameters: "", smtputf8: false))
        #expect(run.sent == "", "nothing goes out before the greeting")
        run.upstream("220 sink.test ESMTP\r\n")
        #expect(run.sent == "EHLO relay.test\r\n")
        run.upstream(Self.ehloAll)
        #expect(run.client.capabilities.isSuperset(of: ["PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8"]))
        #expect(run.sent == "EHLO relay.test\r\nMAIL FROM:<a@example.org>\r\n")
        run.upstream("250 2.1.0 Ok\r\n")
        #expect(run.replies.map(\.code) == [250])
        #expect(run.replies[0].enhanced == "2.1.0")
        #expect(run.replies[0].lines == ["Ok"], "the enhanced code is moved out of the text")
        #expect(run.client.transactionOpen)
    }

    @Test func ehloRefusedFallsBackToHELO() {
        var run = Run()
        run.upstream("220 old.test SMTP\r\n")
        run.upstream("502 5.5.1 EHLO not implemented\r\n")
        #expect(run.sent == "EHLO relay.test\r\nHELO relay.test\r\n")
        run.upstream("250 old.test\r\n")
        #expect(run.client.state == .ready)
        #expect(run.client.capabilities.isEmpty)
        #expect(run.failures.isEmpty)
    }

    @Test(arguments: ["421 4.3.2 busy\r\n", "554 5.7.1 go away\r\n"])
    func greetingRefusalFails(greeting: String) {
        var run = Run()
        run.ask(.mail(reversePath: "<>", parameters: "", smtputf8: false))
        run.upstream(greeting)
        #expect(run.failures.count == 1)
        #expect(run.failures[0].contains(String(greeting.prefix(3))))
        #expect(run.client.state == .failed)
        #expect(run.sent == "")
    }

    @Test func withoutPipeliningOneCommandAtATime() {
        var run = Run.ready(Self.ehloPlain)
        run.ask(.mail(reversePath: "<a@example.org>", parameters: "", smtputf8: false))
        run.ask(.rcpt(forwardPath: "<b@example.net>"))
        #expect(run.sent == "MAIL FROM:<a@example.org>\r\n")
        run.upstream("250 2.1.0 Ok\r\n")
        #expect(run.sent == "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n")
        #expect(run.client.isAwaitingReply)
    }

    @Test func pipeliningSendsAGroupEndingAtDATA() {
        var run = Run.ready()
        run.ask(.mail(reversePath: "<a@example.org>", parameters: "", smtputf8: false))
        run.ask(.rcpt(forwardPath: "<b@example.net>"))
        run.ask(.rcpt(forwardPath: "<c@example.net>"))
        run.ask(.data)
        run.ask(.reset)  // must wait: DATA ends the group
        #expect(run.sent == "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n")
        // All four replies in one segment, split byte by byte: reported in order.
        run.upstream("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no such user\r\n354 go ahead\r\n", chunk: 1)
        #expect(run.replies.map(\.code) == [250, 250, 550, 354])
        #expect(run.client.state == .body)
    }

    @Test func bodyEndAndFinalReplyCloseTheTransaction() {
        var run = Run.ready()
        run.ask(.mail(reversePath: "<a@example.org>", parameters: "", smtputf8: false))
        run.ask(.rcpt(forwardPath: "<b@example.net>"))
        run.upstream("250 Ok\r\n250 Ok\r\n")
        run.ask(.data)
        run.upstream("354 go\r\n")
        #expect(!run.client.isAwaitingReply, "during the body the upstream owes nothing")
        run.sent = ""
        run.ask(.endOfData)
        #expect(run.sent == ".\r\n")
        #expect(run.client.isAwaitingReply)
        run.upstream("250 2.0.0 queued as X\r\n")
        #expect(run.replies.last?.code == 250)
        #expect(!run.client.transactionOpen)
        #expect(run.client.isIdle)
    }

    @Test func refusedDATAResetsTheOpenTransaction() {
        var run = Run.ready(Self.ehloPlain)
        run.ask(.mail(reversePath: "<a@example.org>", parameters: "", smtputf8: false))
        run.upstream("250 Ok\r\n")
        run.ask(.rcpt(forwardPath: "<b@example.net>"))
        run.upstream("250 Ok\r\n")
        run.ask(.data)
        run.sent = ""
        run.upstream("554 5.5.1 no thanks\r\n")
        #expect(run.replies.last?.code == 554)
        #expect(run.sent == "RSET\r\n")
        run.upstream("250 Ok\r\n")
        #expect(run.client.isIdle)
        #expect(!run.client.transactionOpen)
    }

    @Test func newMailInsideAnOpenTransactionResetsFirst() {
        var run = Run.ready(Self.ehloPlain)
        run.ask(.mail(reversePath: "<a@example.org>", parameters: "", smtputf8: false))
        run.upstream("250 Ok\r\n")
        run.sent = ""
        run.ask(.mail(reversePath: "<c@example.org>", parameters: "", smtputf8: false))
        #expect(run.sent == "RSET\r\n")
        run.upstream("250 Ok\r\n")
        #expect(run.sent == "RSET\r\nMAIL FROM:<c@example.org>\r\n")
        #expect(run.replies.count == 1, "the RSET reply is not reported")
    }

    @Test func upstream421IsReportedThenFails() {
        var run = Run.ready()
        run.ask(.mail(reversePath: "<a@example.org>", parameters: "", smtputf8: false))
        run.upstream("421 4.3.2 shutting down\r\n")
        #expect(run.replies.map(\.code) == [421])
        #expect(run.failures.count == 1)
        #expect(run.client.state == .failed)
    }

    @Test func replyToNothingFails() {
        var run = Run.ready()
        run.upstream("250 Ok\r\n")
        #expect(run.failures.count == 1)
    }

    @Test func malformedReplyFails() {
        var run = Run()
        run.upstream("hello\r\n")
        #expect(run.failures.count == 1)
        #expect(run.failures[0].contains("protocol error"))
    }

    @Test func mailParametersFollowTheUpstreamsExtensions() {
        var full = Run.ready()
        full.ask(.mail(reversePath: "<a@example.org>", parameters: "SIZE=1000 BODY=8BITMIME SMTPUTF8", smtputf8: true))
        #expect(full.sent == "MAIL FROM:<a@example.org> SIZE=1000 BODY=8BITMIME SMTPUTF8\r\n")

        var plain = Run.ready(Self.ehloPlain)
        plain.ask(.mail(reversePath: "<a@example.org>", parameters: "SIZE=1000 BODY=7BIT", smtputf8: false))
        #expect(plain.sent == "MAIL FROM:<a@example.org>\r\n", "SIZE and BODY only go to a server that offered them")
    }

    @Test(arguments: [
        ("SMTPUTF8", 550, "5.6.7"),
        ("BODY=8BITMIME", 554, "5.6.3"),
    ])
    func messagesTheUpstreamCannotTakeAreRefusedHere(parameter: String, code: Int, enhanced: String) {
        var run = Run.ready(Self.ehloPlain)
        run.ask(.mail(reversePath: "<a@example.org>", parameters: parameter, smtputf8: parameter == "SMTPUTF8"))
        #expect(run.sent == "", "nothing is sent upstream")
        #expect(run.replies.map(\.code) == [code])
        #expect(run.replies.first?.enhanced == enhanced)
        #expect(run.client.isIdle)
    }

    @Test func localRefusalWaitsForEarlierReplies() {
        var run = Run.ready("250-sink.test\r\n250 PIPELINING\r\n")
        run.ask(.reset)
        run.ask(.mail(reversePath: "<a@example.org>", parameters: "SMTPUTF8", smtputf8: true))
        #expect(run.replies.isEmpty, "the RSET reply is still due")
        run.upstream("250 Ok\r\n")
        #expect(run.replies.map(\.code) == [550])
    }

    @Test func multilineUpstreamReplyKeepsEveryLine() {
        var run = Run.ready()
        run.ask(.mail(reversePath: "<a@example.org>", parameters: "", smtputf8: false))
        run.upstream("550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 last\r\n", chunk: 3)
        #expect(run.replies.count == 1)
        #expect(run.replies[0].lines == ["first", "second", "last"])
        #expect(run.replies[0].description == "550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 last\r\n")
    }
}
