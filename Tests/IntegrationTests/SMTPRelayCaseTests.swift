import Foundation
import Glibc
import Testing
@testable import UringRelay

/// Every case of ../shared/cases/smtp.md through the running relay, on both engines, with
/// aiosmtpd as the upstream and a byte-exact client (the inputs are ones no polite client
/// sends). What the upstream received is read from its record, not inferred.
@Suite(.serialized) struct SMTPRelayCaseTests {
    static let smugglingEndings = ["\n.\n", "\n.\r\n", "\r.\r", "\r.\n", "\r.\r\n", "\n.\r", "\r\n\u{0}.\r\n"]

    /// A relay in front of an aiosmtpd upstream started with `upstreamArgs`.
    struct Rig {
        let upstream: SMTPUpstreamPeer
        let relay: SMTPRelayUnderTest

        init(_ engine: EngineChoice, upstream configureUpstream: (inout SMTPUpstreamOptions) -> Void = { _ in },
             configure: (inout SMTPRelayConfig) -> Void = { _ in }) throws {
            var options = SMTPUpstreamOptions()
            configureUpstream(&options)
            upstream = try SMTPUpstreamPeer(options)
            relay = try SMTPRelayUnderTest(engine, upstream: upstream.address, configure: configure)
        }

        func client() throws -> SMTPTestClient {
            let c = try SMTPTestClient(relay.address)
            try c.hello()
            return c
        }

        func stop() {
            relay.stop()
            _ = upstream.stop()
        }
    }

    static func available(_ engine: EngineChoice) -> Bool {
        TestEnvironment.canRun(engine) && SMTPUpstreamPeer.canRun()
    }

    // MARK: - End of DATA (SMTP smuggling)

    @Test(arguments: engines)
    func aMessageWithMoreReceivedFieldsThanTheHopLimitIsALoop(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        try expectNoFileDescriptorLeak {
            let rig = try Rig(engine, configure: { $0.maxHops = 10 })
            defer { rig.stop() }
            let c = try rig.client()
            func send(receivedFields n: Int) throws -> Int {
                #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
                #expect(try c.command("RCPT TO:<b@example.net>") == 250)
                #expect(try c.command("DATA") == 354)
                let fields = (0..<n).map { "Received: from hop\($0) by relay; Thu, 3 Dec 2026 10:00:00 +0000\r\n" }.joined()
                try c.send(fields + "Subject: loop?\r\n\r\nbody\r\n.\r\n")
                return try c.reply().code
            }
            // Ours makes one more: 9 + 1 passes, 10 + 1 is over the limit.
            #expect(try send(receivedFields: 9) == 250)
            #expect(try send(receivedFields: 10) == 554)
            #expect(try c.command("NOOP") == 250, "the session goes on")
            #expect(try send(receivedFields: 0) == 250, "and the next message is relayed")
            try c.send("QUIT\r\n")
            _ = try? c.reply()
            #expect(try rig.upstream.waitForMessages(count: 2).count == 2)
            rig.relay.waitForNoActiveConnections()
            #expect(try rig.upstream.messages().count == 2, "the looping message never reached the upstream")
        }
    }

    @Test(arguments: engines, 0..<smugglingEndings.count)
    func smugglingNeverMakesTwoMessages(engine: EngineChoice, variant: Int) throws {
        guard Self.available(engine) else { return }
        let x = Self.smugglingEndings[variant]
        for policy in ["reject", "normalize"] {
            try expectNoFileDescriptorLeak {
                let rig = try Rig(engine, configure: { $0.bareLineEndings = policy == "reject" ? .reject : .normalize })
                defer { rig.stop() }
                let c = try rig.client()
                #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
                #expect(try c.command("RCPT TO:<b@example.net>") == 250)
                #expect(try c.command("DATA") == 354)
                try c.send("Subject: a\r\n\r\nbody" + x
                           + "MAIL FROM:<s@example.org>\r\nRCPT TO:<v@example.net>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n")
                let end = try c.reply()
                // One 250 for one message, or a 5xx rejection; nothing else.
                #expect(end.code == 250 || end.isPermanentFailure, "variant \(variant) \(policy): \(end.code)")
                #expect(try c.command("NOOP") == 250, "the session is still in step")
                try c.send("QUIT\r\n")
                _ = try? c.reply()
                if end.code == 250 { #expect(try rig.upstream.waitForMessages(count: 1).count == 1) }
                rig.relay.waitForNoActiveConnections()
                let messages = try rig.upstream.messages()
                #expect(messages.count <= 1, "variant \(variant) \(policy): \(messages.count) messages upstream")
                for m in messages {
                    #expect(!m.body.containsBareLineEnding, "variant \(variant) \(policy): a bare CR or LF reached the upstream")
                    #expect(m.recipients == ["b@example.net"], "only the real envelope")
                }
                if policy == "reject" {
                    #expect(end.code == 550, "variant \(variant): default is to reject, got \(end.code)")
                    #expect(messages.isEmpty)
                }
            }
        }
    }

    // MARK: - Pipelining

    @Test(arguments: engines)
    func endOfDataAndQuitInOneWrite(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        try expectNoFileDescriptorLeak {
            let rig = try Rig(engine)
            defer { rig.stop() }
            let c = try rig.client()
            try c.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
            #expect(try c.codes(3) == [250, 250, 354])
            try c.send("Subject: p\r\n\r\nhello\r\n.\r\nQUIT\r\n")
            #expect(try c.codes(2) == [250, 221])
            #expect(c.closedByPeer())
            #expect(try rig.upstream.waitForMessages(count: 1).count == 1)
            rig.relay.waitForNoActiveConnections()
            #expect(try rig.upstream.messages().count == 1, "delivered exactly once")
        }
    }

    @Test(arguments: engines)
    func pipelinedDataAfterTheOnlyRecipientIsRefused(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine, upstream: { $0.refuseRecipients = ["x@blocked.example"] })
        defer { rig.stop() }
        let c = try rig.client()
        try c.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<x@blocked.example>\r\nDATA\r\nSubject: no\r\n\r\nQUIT\r\nRSET\r\n.\r\n")
        let replies = try (0..<3).map { _ in try c.reply() }
        #expect(replies.map(\.code) == [250, 550, 554], "DATA gets 554 (no valid recipients), not 503")
        // The body lines (QUIT, RSET) were swallowed, not executed.
        #expect(try c.command("NOOP") == 250)
        try c.send("QUIT\r\n")
        #expect(try c.reply().code == 221)
        #expect(try rig.upstream.messages().isEmpty)
    }

    @Test(arguments: engines)
    func bdatBeforeMailSwallowsItsOctets(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine)
        defer { rig.stop() }
        let c = try rig.client()
        try c.send("BDAT 9 LAST\r\nMAIL FROMNOOP\r\n")
        #expect(try c.codes(2) == [503, 250], "503, then exactly 9 octets swallowed, then NOOP")
    }

    // MARK: - Envelope syntax

    @Test(arguments: engines)
    func envelopeForms(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine)
        defer { rig.stop() }
        let c = try rig.client()
        // Null sender (bounces) and a quoted local part, forwarded as written.
        #expect(try c.command("MAIL FROM:<>") == 250)
        #expect(try c.command("RCPT TO:<\"odd user\"@example.com>") == 250)
        #expect(try c.command("DATA") == 354)
        #expect(try c.command("Subject: bounce\r\n\r\nx\r\n.") == 250)
        // BODY is not a bad SIZE.
        #expect(try c.command("MAIL FROM:<a@example.org> BODY=8BITMIME") == 250)
        #expect(try c.command("RSET") == 250)
        #expect(try c.command("MAIL FROM:<a@example.org> SIZE=1000 BODY=8BITMIME") == 250)
        #expect(try c.command("RSET") == 250)
        #expect(try rig.upstream.waitForMessages(count: 1).count == 1)
        let m = try #require(try rig.upstream.messages().first)
        #expect(m.mailFrom == "<>")
        #expect(m.recipients == ["\"odd user\"@example.com"])
    }

    @Test(arguments: engines)
    func ehloAddressLiterals(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine)
        defer { rig.stop() }
        let c = try SMTPTestClient(rig.relay.address)
        #expect(try c.reply().code == 220)
        #expect(try c.command("EHLO [IPv6:2001:db8::1]") == 250)
        #expect(try c.command("EHLO [ipv6:2001:db8::1]") == 250)
        #expect(try c.command("EHLO [2001:db8::1]") == 501)
    }

    @Test(arguments: engines)
    func sizeLimitAtMailAndWhileStreaming(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine, configure: { $0.maxMessageBytes = 64 << 10 })
        defer { rig.stop() }
        let c = try rig.client()
        let over = try { () throws -> UpstreamReply in
            try c.send("MAIL FROM:<a@example.org> SIZE=999999999999\r\n")
            return try c.reply()
        }()
        #expect(over.code == 552)
        #expect(over.enhanced == "5.3.4")
        // Without SIZE=, a body that grows past the limit: 552 after the end of data.
        #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
        #expect(try c.command("RCPT TO:<b@example.net>") == 250)
        #expect(try c.command("DATA") == 354)
        let line = String(repeating: "x", count: 998) + "\r\n"
        try c.send("Subject: big\r\n\r\n" + String(repeating: line, count: 100) + ".\r\n")
        #expect(try c.reply().code == 552)
        #expect(try c.command("NOOP") == 250, "session usable")
        rig.relay.waitForNoActiveConnections(0.5)
        #expect(try rig.upstream.messages().isEmpty, "nothing was delivered as accepted")
    }

    @Test(arguments: engines)
    func overlongLinesAreRefusedAndTheSessionGoesOn(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine)
        defer { rig.stop() }
        let c = try rig.client()
        let long = try { () throws -> UpstreamReply in
            try c.send("NOOP " + String(repeating: "a", count: 600) + "\r\n")
            return try c.reply()
        }()
        #expect(long.code == 500)
        #expect(long.enhanced == "5.5.2")
        #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
        #expect(try c.command("RCPT TO:<b@example.net>") == 250)
        #expect(try c.command("DATA") == 354)
        try c.send("Subject: long\r\n\r\n" + String(repeating: "y", count: 1200) + "\r\n.\r\n")
        let rejected = try c.reply()
        #expect(rejected.code == 550 || rejected.code == 554)
        #expect(rejected.enhanced?.hasPrefix("5.") == true)
        #expect(try c.command("NOOP") == 250)
        #expect(try rig.upstream.messages().isEmpty)
    }

    // MARK: - Upstream behaviour

    @Test(arguments: engines)
    func upstreamRefusesTheOnlyRecipient(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine, upstream: { $0.refuseRecipients = ["nobody@example.net"] })
        defer { rig.stop() }
        let c = try rig.client()
        #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
        let rcpt = try { () throws -> UpstreamReply in
            try c.send("RCPT TO:<nobody@example.net>\r\n")
            return try c.reply()
        }()
        #expect(rcpt.code == 550, "the upstream's refusal, passed back")
        #expect(try c.command("DATA") == 554)
        #expect(try rig.upstream.messages().isEmpty)
    }

    @Test(arguments: engines)
    func upstreamDisconnectingMidDataIsTransient(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine, upstream: { $0.disconnectMidDataAfter = 100 })
        defer { rig.stop() }
        let c = try rig.client()
        #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
        #expect(try c.command("RCPT TO:<b@example.net>") == 250)
        #expect(try c.command("DATA") == 354)
        try c.send("Subject: cut\r\n\r\n" + String(repeating: "body line\r\n", count: 2000) + ".\r\n")
        let end = try c.reply()
        #expect(end.code == 451 || end.code == 421, "transient, never 250 or 5xx: got \(end.code)")
        #expect(try c.command("RSET") == 250, "the session goes on")
    }

    @Test(arguments: engines)
    func upstreamTooSlowIsTransient(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine, upstream: { $0.replyDelay = 3 }) { $0.connectTimeoutMs = 1_000; $0.upstreamTimeoutMs = 1_000 }
        defer { rig.stop() }
        let c = try rig.client()
        let mail = try c.command("MAIL FROM:<a@example.org>")
        #expect(mail == 451, "an upstream that does not answer in time: 451, got \(mail)")
    }

    @Test(arguments: engines)
    func upstream421AtConnectIsTransient(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine, upstream: { $0.greet421 = true })
        defer { rig.stop() }
        let c = try rig.client()
        let mail = try c.command("MAIL FROM:<a@example.org>")
        #expect(mail == 451 || mail == 421, "got \(mail)")
    }

    @Test(arguments: engines)
    func upstreamTempfailAtEndOfDataIsPassedBack(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine, upstream: { $0.tempfailData = true })
        defer { rig.stop() }
        let c = try rig.client()
        #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
        #expect(try c.command("RCPT TO:<b@example.net>") == 250)
        #expect(try c.command("DATA") == 354)
        #expect(try c.command("Subject: t\r\n\r\nx\r\n.") == 451)
        // The upstream connection is still usable for the next message.
        #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
    }

    @Test(arguments: engines)
    func upstreamUnreachableIsTransient(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine) else { return }
        let closed = try RefusingPort()
        defer { closed.close() }
        let relay = try SMTPRelayUnderTest(engine, upstream: closed.address)
        defer { relay.stop() }
        let c = try SMTPTestClient(relay.address)
        try c.hello()
        let mail = try c.command("MAIL FROM:<a@example.org>")
        #expect(mail == 451, "got \(mail)")
        #expect(try c.command("QUIT") == 221)
    }

    // MARK: - Extensions and conversion

    @Test(arguments: engines)
    func smtputf8PassesOnlyToAnUpstreamThatOffersIt(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        do {
            let rig = try Rig(engine)
            defer { rig.stop() }
            let c = try rig.client()
            #expect(try c.command("MAIL FROM:<jösé@example.org> SMTPUTF8") == 250)
            #expect(try c.command("RCPT TO:<b@example.net>") == 250)
            #expect(try c.command("DATA") == 354)
            #expect(try c.command("Subject: u\r\n\r\nx\r\n.") == 250)
            #expect(try rig.upstream.waitForMessages(count: 1).count == 1)
            #expect(try rig.upstream.messages().first?.smtputf8 == true)
        }
        do {
            let rig = try Rig(engine, upstream: { $0.smtputf8 = false })
            defer { rig.stop() }
            let c = try rig.client()
            let refused = try { () throws -> UpstreamReply in
                try c.send("MAIL FROM:<jösé@example.org> SMTPUTF8\r\n")
                return try c.reply()
            }()
            #expect(refused.code == 550)
            #expect(refused.enhanced == "5.6.7")
        }
    }

    @Test(arguments: engines)
    func bdatToAnUpstreamWithoutChunkingIsDotStuffedData(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine, upstream: { $0.chunking = false })
        defer { rig.stop() }
        let c = try rig.client()
        let part1 = "Subject: b\r\n\r\n.hidden line\r\n"
        let part2 = ".\r\nlast\r\n"
        #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
        #expect(try c.command("RCPT TO:<b@example.net>") == 250)
        try c.send("BDAT \(part1.utf8.count)\r\n\(part1)BDAT \(part2.utf8.count) LAST\r\n\(part2)")
        #expect(try c.codes(2) == [250, 250])
        #expect(try rig.upstream.waitForMessages(count: 1).count == 1)
        let m = try #require(try rig.upstream.messages().first)
        #expect(m.transfer == "DATA")
        #expect(String(decoding: m.body.withoutTraceHeaders, as: UTF8.self) == part1 + part2,
                "the body arrives as sent: dot-stuffed on the wire, unstuffed by the upstream")
    }

    // MARK: - Policy and limits

    @Test(arguments: engines)
    func clientsOutsideAllowGet554AtRCPT(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine, configure: { $0.allow = [try! CIDR.parse("192.0.2.0/24")] })
        defer { rig.stop() }
        let c = try rig.client()
        #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
        let rcpt = try { () throws -> UpstreamReply in
            try c.send("RCPT TO:<b@example.net>\r\n")
            return try c.reply()
        }()
        #expect(rcpt.code == 554)
        #expect(rcpt.enhanced == "5.7.1")
    }

    @Test(arguments: engines)
    func recipientsBeyondTheLimitGet452(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine, configure: { $0.maxRecipients = 3 })
        defer { rig.stop() }
        let c = try rig.client()
        #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
        let codes = try (1...5).map { try c.command("RCPT TO:<r\($0)@example.net>") }
        #expect(codes == [250, 250, 250, 452, 452])
    }

    @Test(arguments: engines)
    func sessionsBeyondMaxConnsGet421(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        try expectNoFileDescriptorLeak {
            let rig = try Rig(engine, configure: { $0.maxConnections = 2 })
            defer { rig.stop() }
            let a = try rig.client(), b = try rig.client()
            let third = try SMTPTestClient(rig.relay.address)
            let reply = try third.reply()
            #expect(reply.code == 421)
            #expect(third.closedByPeer())
            a.close()
            b.close()
            #expect(rig.relay.waitForNoActiveConnections())
            let again = try rig.client()
            #expect(try again.command("NOOP") == 250, "capacity comes back")
        }
    }

    @Test(arguments: engines)
    func idleClientIsDroppedWith421(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine, configure: { $0.commandTimeoutMs = 600 })
        defer { rig.stop() }
        let c = try rig.client()
        let reply = try c.reply()
        #expect(reply.code == 421)
        #expect(c.closedByPeer())
    }

    @Test(arguments: engines)
    func upstreamConnectionIsReusedAcrossSessions(engine: EngineChoice) throws {
        guard Self.available(engine) else { return }
        let rig = try Rig(engine, configure: { $0.threads = 1 })
        defer { rig.stop() }
        for i in 0..<3 {
            let c = try rig.client()
            #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
            #expect(try c.command("RCPT TO:<b\(i)@example.net>") == 250)
            #expect(try c.command("DATA") == 354)
            #expect(try c.command("Subject: r\(i)\r\n\r\nx\r\n.") == 250)
            #expect(try c.command("QUIT") == 221)
        }
        #expect(try rig.upstream.waitForMessages(count: 3).count == 3)
        let connections = Set(try rig.upstream.messages().map { $0.connection })
        #expect(connections.count == 1, "three messages, one upstream connection: \(connections)")
    }
}

extension Array where Element == UInt8 {
    /// A CR not followed by LF, or an LF not preceded by CR.
    var containsBareLineEnding: Bool {
        for (i, b) in enumerated() {
            if b == 13 && (i + 1 == count || self[i + 1] != 10) { return true }
            if b == 10 && (i == 0 || self[i - 1] != 13) { return true }
        }
        return false
    }

    /// The body after the leading `Received:` header fields (with their folded lines).
    var withoutTraceHeaders: [UInt8] {
        var i = 0
        while count - i >= 9 && Array(self[i..<i + 9]) == Array("Received:".utf8) {
            // Skip this field: up to a CRLF not followed by a space or tab.
            var j = i
            while j + 1 < count {
                if self[j] == 13 && self[j + 1] == 10 && (j + 2 >= count || (self[j + 2] != 32 && self[j + 2] != 9)) { break }
                j += 1
            }
            i = Swift.min(count, j + 2)
        }
        return Array(self[i...])
    }
}

/// A client that pipelines commands and never reads the replies: the relay stops reading it
/// once its bounded queues are full (the client's sends stall), holds no more than those
/// bounds, and other sessions carry on.
@Suite(.serialized) struct SMTPRelayBoundsTests {
    @Test(arguments: engines)
    func pipeliningClientThatNeverReadsIsBounded(engine: EngineChoice) throws {
        guard SMTPRelayCaseTests.available(engine) else { return }
        try expectNoFileDescriptorLeak {
            let rig = try SMTPRelayCaseTests.Rig(engine)
            defer { rig.stop() }
            let greedy = try SMTPTestClient(rig.relay.address)
            try? Socket.setBufferSizes(greedy.socket.fd, send: 64 << 10, recv: 64 << 10)
            Blocking.setTimeouts(greedy.socket.fd, seconds: 0.2)
            let chunk = Array(String(repeating: "NOOP\r\n", count: 10_000).utf8)
            let rssBefore = residentSetSize()
            var written = 0
            var stalls = 0
            while stalls < 3 && written < 256 << 20 {
                let n = chunk.withUnsafeBytes { send(greedy.socket.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
                if n > 0 { written += n } else if errno == EAGAIN || errno == EINTR { stalls += 1 } else { break }
            }
            #expect(stalls >= 3, "the relay kept reading a client that never reads: \(written) bytes taken")
            // Most of what was written sits in kernel queues: the input not yet read, and the
            // replies (14 bytes per 6-byte NOOP) the client does not read. The relay itself
            // holds at most its input backlog, its reply ring and the replies to one slice.
            let rssGrowth = residentSetSize() - rssBefore
            #expect(rssGrowth < 8 << 20, "the relay grew by \(rssGrowth) bytes for \(written) bytes of unread pipelining")
            // Everyone else is served meanwhile.
            let c = try rig.client()
            #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
            #expect(try c.command("RCPT TO:<b@example.net>") == 250)
            #expect(try c.command("DATA") == 354)
            #expect(try c.command("Subject: s\r\n\r\nx\r\n.") == 250)
            greedy.socket.reset()
        }
    }
}

/// What a new user's trial found, through the running relay on both engines.
@Suite(.serialized) struct SMTPRelayTrialTests {
    typealias Rig = SMTPRelayCaseTests.Rig

    @Test(arguments: engines)
    func dataAfterABDATChunkIsRefusedAndTheSessionGoesOn(engine: EngineChoice) throws {
        guard SMTPRelayCaseTests.available(engine) else { return }
        try expectNoFileDescriptorLeak {
            let rig = try Rig(engine)
            defer { rig.stop() }
            let c = try rig.client()
            #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
            #expect(try c.command("RCPT TO:<b@example.net>") == 250)
            try c.send("BDAT 4\r\nabcdDATA\r\nRCPT TO:<x@example.net>\r\nNOOP\r\n")
            #expect(try c.codes(4) == [250, 503, 503, 250])
            // RSET drops the half-sent message (the upstream connection with it); the next
            // message goes through.
            #expect(try c.command("RSET") == 250)
            #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
            #expect(try c.command("RCPT TO:<b@example.net>") == 250)
            #expect(try c.command("DATA") == 354)
            #expect(try c.command("Subject: after\r\n\r\nok\r\n.") == 250)
            #expect(try c.command("QUIT") == 221)
            let messages = try rig.upstream.waitForMessages(count: 1)
            #expect(messages.count == 1, "the abandoned BDAT message never completed upstream")
            #expect(rig.relay.waitForNoActiveConnections())
        }
    }

    @Test(arguments: engines)
    func upstreamLostDuringRcptIsTransientForEveryRecipient(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SMTPSinkPeer.canRun(), SwaksClient.canRun() else { return }
        var options = SMTPSinkOptions()
        options.disconnectOn = ["RCPT"]
        let sink = try SMTPSinkPeer(options)
        let relay = try SMTPRelayUnderTest(engine, upstream: sink.address)
        defer { relay.stop(); sink.stop() }
        let r = try SwaksClient.send(to: relay.address, recipients: ["a@sink.test", "b@sink.test"], data: SMTPPeerSelfTests.message,
                                     pipelining: true)
        let rcpt = r.codes(for: "RCPT")
        #expect(!rcpt.isEmpty && rcpt.allSatisfy { $0 >= 400 && $0 < 500 }, "never a 5xx for upstream trouble: \(r.transcript)")
    }

    @Test(arguments: engines)
    func clientOutsideAllowNeverReachesTheUpstream(engine: EngineChoice) throws {
        guard SMTPRelayCaseTests.available(engine) else { return }
        let rig = try Rig(engine, configure: { $0.allow = [try! CIDR.parse("10.0.0.0/8")] })
        defer { rig.stop() }
        let c = try rig.client()
        #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
        #expect(try c.command("RCPT TO:<b@example.net>") == 554)
        #expect(try c.command("QUIT") == 221)
        #expect(rig.upstream.connectionCount == 0)
    }

    @Test(arguments: engines)
    func relayPointedAtItselfNoticesTheLoop(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine) else { return }
        try expectNoFileDescriptorLeak {
            // Bind first to learn the port, then aim the relay's upstream at its own listener.
            let probe = try Blocking.listen(.ipv4Loopback(port: 0))
            let address = probe.address
            close(probe.fd)
            let relay = try SMTPRelayUnderTest(engine, upstream: address, listen: address)
            defer { relay.stop() }
            let c = try SMTPTestClient(relay.address)
            try c.hello()
            #expect(try c.command("MAIL FROM:<a@example.org>") == 451)
            #expect(try c.command("QUIT") == 221)
            #expect(relay.waitForNoActiveConnections(), "the relay's session with itself is gone too")
        }
    }

    @Test(arguments: engines)
    func unspecifiedIPv6ListenServesIPv4Clients(engine: EngineChoice) throws {
        guard SMTPRelayCaseTests.available(engine) else { return }
        let upstream = try SMTPUpstreamPeer()
        let relay = try SMTPRelayUnderTest(engine, upstream: upstream.address, listen: .ipv6Any(port: 0))
        defer { relay.stop(); _ = upstream.stop() }
        let c = try SMTPTestClient(.ipv4Loopback(port: relay.address.port))
        try c.hello()
        #expect(try c.command("MAIL FROM:<a@example.org>") == 250)
        #expect(try c.command("RCPT TO:<b@example.net>") == 250, "127.0.0.1 as ::ffff:127.0.0.1 is inside the default --allow")
    }
}
