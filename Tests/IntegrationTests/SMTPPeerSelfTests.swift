import Foundation
import Testing
@testable import UringRelay

/// The SMTP peer harness tested on its own: clients (swaks, smtplib, smtp-source) pointed
/// straight at the upstreams (aiosmtpd, smtp-sink), no relay in between. If these pass,
/// a relay test that fails through the same peers is about the relay.
@Suite(.serialized) struct SMTPPeerSelfTests {
    /// A message with what tends to break: a leading dot, an empty line, 8-bit text, and a
    /// line long enough to cross small buffers.
    static let message: [UInt8] = Array((
        "From: <sender@client.test>\r\nTo: <rcpt@upstream.test>\r\nSubject: peer self-test\r\n\r\n"
        + ".a line starting with a dot\r\n\r\n..two dots\r\nnon-ASCII: h\u{e9}llo w\u{f6}rld\r\n"
        + String(repeating: "0123456789", count: 90) + "\r\nlast line\r\n").utf8)

    // MARK: Clients against upstreams

    @Test func swaksDeliversToUpstreamExactly() throws {
        guard SMTPUpstreamPeer.canRun(), SwaksClient.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let upstream = try SMTPUpstreamPeer()
            let r = try SwaksClient.send(to: upstream.address, recipients: ["a@upstream.test", "b@upstream.test"],
                                         data: Self.message, pipelining: true)
            #expect(r.status == 0, "swaks: \(r.transcript) \(r.stderr)")
            #expect(r.code(for: "CONNECT") == 220)
            #expect(r.codes(for: "RCPT") == [250, 250])
            #expect(r.code(for: "DATA") == 354)
            #expect(r.code(for: "DOT") == 250)
            #expect(r.code(for: "QUIT") == 221)
            for keyword in ["SIZE", "8BITMIME", "SMTPUTF8", "PIPELINING", "CHUNKING"] {
                #expect(r.ehloKeywords.contains(keyword), "EHLO lacks \(keyword): \(r.ehloKeywords)")
            }
            let m = try #require(try upstream.waitForMessages(count: 1).first)
            #expect(m.body == Self.message)
            #expect(m.sha256 == (try Self.sha256(Self.message)))
            #expect(m.mailFrom == "sender@client.test")
            #expect(m.recipients == ["a@upstream.test", "b@upstream.test"])
            #expect(m.helo == "client.test" && m.esmtp && m.transfer == "DATA" && m.accepted)
            #expect(upstream.stop() == 0, "SIGTERM is a clean exit: \(upstream.stderr)")
        }
    }

    @Test func smtplibDeliversToSmtpSink() throws {
        guard SMTPSinkPeer.canRun(), SmtplibClient.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let sink = try SMTPSinkPeer()
            var o = SmtplibOptions()
            o.body = Self.message
            o.messages = 3
            o.recipients = ["x@sink.test", "y@sink.test"]
            let r = try SmtplibClient.send(to: sink.address, o)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.messages.count == 3)
            for m in r.messages {
                #expect(m.error == nil && m.finalCode == 250, "\(m.steps)")
            }
            #expect(r.messages[0].capabilities.contains("PIPELINING"))
            try sink.waitForMessages(count: 3)
            #expect(try sink.waitForSessions(count: 1).quits == 1)
            let captured = try sink.messages()
            #expect(captured.count == 3)
            for c in captured {
                #expect(c.contentCRLF == Self.message)
                #expect(c.sender == "sender@client.test")
                #expect(c.recipients == ["x@sink.test", "y@sink.test"])
                #expect(c.helo == "client.test" && c.clientProtocol == "ESMTP")
            }
        }
    }

    @Test func smtpSourceLoadReachesUpstreamIntact() throws {
        guard SMTPUpstreamPeer.canRun(), SMTPSourceLoad.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let upstream = try SMTPUpstreamPeer()
            let file = Array("Subject: load\n\n.dot line\n".utf8) + Array(repeating: UInt8(ascii: "z"), count: 700) + [0x0A]
            var load = SMTPSourceLoad()
            load.sessions = 10
            load.messages = 200
            load.messageFile = file
            let r = try load.run(against: upstream.address)
            #expect(r.status == 0 && !r.timedOut, "smtp-source: \(r.stderr)")
            let messages = try upstream.waitForMessages(count: 200, timeout: 20)
            #expect(messages.count == 200)
            let expected = SMTPSourceLoad.expectedBody(messageFile: file)
            #expect(messages.allSatisfy { $0.body == expected && $0.accepted })
            #expect(Set(messages.map(\.sha256)).count == 1)
            #expect(Set(messages.map(\.connection)).count == 10, "one connection per session (-d)")
            #expect(upstream.connectionCount == 10)
        }
    }

    @Test func smtpSourcePayloadIsWhatItSays() throws {
        guard SMTPUpstreamPeer.canRun(), SMTPSourceLoad.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let upstream = try SMTPUpstreamPeer()
            var load = SMTPSourceLoad()
            load.messages = 2
            load.size = 1000
            load.recipientsPerMessage = 2
            let r = try load.run(against: upstream.address)
            #expect(r.status == 0, "\(r.stderr)")
            let messages = try upstream.waitForMessages(count: 2)
            let payload = SMTPSourceLoad.payload(length: 1000)
            #expect(messages.allSatisfy { $0.body.count > payload.count && Array($0.body.suffix(payload.count)) == payload })
            // -r 2 counts down: "2rcpt@...", then the address itself.
            #expect(messages.map(\.recipients) == Array(repeating: ["2rcpt@upstream.test", "rcpt@upstream.test"], count: 2))
        }
    }

    @Test func smtplibPipeliningAndChunkingToUpstream() throws {
        guard SMTPUpstreamPeer.canRun(), SmtplibClient.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let upstream = try SMTPUpstreamPeer()
            var o = SmtplibOptions()
            o.body = Self.message
            o.pipelining = true
            o.chunkSize = 300
            o.mailOptions = ["SMTPUTF8", "BODY=8BITMIME"]
            o.recipients = ["r\u{e9}sum\u{e9}@upstream.test"]
            let r = try SmtplibClient.send(to: upstream.address, o)
            let sent = try #require(r.messages.first)
            #expect(sent.error == nil && sent.finalCode == 250, "\(sent.steps)")
            #expect(sent.codes(for: "BDAT").count == (Self.message.count + 299) / 300)
            let m = try #require(try upstream.waitForMessages(count: 1).first)
            #expect(m.transfer == "BDAT" && m.chunks == sent.codes(for: "BDAT").count)
            #expect(m.body == Self.message && m.sha256 == sent.sha256)
            #expect(m.smtputf8 && m.mailOptions == ["SMTPUTF8", "BODY=8BITMIME"])
            #expect(m.recipients == ["r\u{e9}sum\u{e9}@upstream.test"])
            #expect(m.pipelined, "MAIL, RCPT went in one write")
        }
    }

    @Test func upstreamListensOnIPv6() throws {
        guard SMTPUpstreamPeer.canRun(), SmtplibClient.canRun() else { return }
        var options = SMTPUpstreamOptions()
        options.host = "::1"
        try expectNoFileDescriptorLeak {
            let upstream = try SMTPUpstreamPeer(options)
            #expect(upstream.address.family == AF_INET6)
            let r = try SmtplibClient.send(to: upstream.address)
            #expect(r.messages.first?.finalCode == 250, "\(r.messages)")
            #expect(try upstream.waitForMessages(count: 1).first?.peer.hasPrefix("[::1]:") == true)
        }
    }

    // MARK: Upstream faults, as a client sees them

    @Test func refusedRecipientGets550() throws {
        guard SMTPUpstreamPeer.canRun(), SmtplibClient.canRun(), SwaksClient.canRun() else { return }
        var options = SMTPUpstreamOptions()
        options.refuseRecipients = ["Nobody@Upstream.test"]
        try expectNoFileDescriptorLeak {
            let upstream = try SMTPUpstreamPeer(options)
            var o = SmtplibOptions()
            o.recipients = ["ok@upstream.test", "nobody@upstream.test"]
            let sent = try #require(try SmtplibClient.send(to: upstream.address, o).messages.first)
            #expect(sent.codes(for: "RCPT") == [250, 550])
            #expect(sent.steps.first { $0.command == "RCPT" && $0.code == 550 }?.text.hasPrefix("5.1.1") == true)
            #expect(sent.finalCode == 250)
            let m = try #require(try upstream.waitForMessages(count: 1).first)
            #expect(m.recipients == ["ok@upstream.test"])
            let swaks = try SwaksClient.send(to: upstream.address, recipients: ["nobody@upstream.test"])
            #expect(swaks.status == 24, "swaks: no RCPT accepted")
            #expect(swaks.code(for: "RCPT") == 550)
        }
    }

    @Test(arguments: [(tempfail: true, code: 451), (tempfail: false, code: 554)])
    func endOfDataRefusal(tempfail: Bool, code: Int) throws {
        guard SMTPUpstreamPeer.canRun(), SmtplibClient.canRun() else { return }
        var options = SMTPUpstreamOptions()
        options.tempfailData = tempfail
        options.rejectData = !tempfail
        try expectNoFileDescriptorLeak {
            let upstream = try SMTPUpstreamPeer(options)
            var o = SmtplibOptions()
            o.messages = 2
            o.chunkSize = nil
            let r = try SmtplibClient.send(to: upstream.address, o)
            #expect(r.messages.map(\.finalCode) == [code, code], "\(r.messages)")
            #expect(r.messages.allSatisfy { $0.code(for: "DATA") == 354 })
            o.messages = 1
            o.chunkSize = 100
            #expect(try SmtplibClient.send(to: upstream.address, o).messages.first?.finalCode == code, "BDAT LAST too")
            let seen = try upstream.waitForMessages(count: 3)
            #expect(seen.allSatisfy { !$0.accepted && $0.replyCode == code })
            #expect(try upstream.deliveredMessages().isEmpty)
        }
    }

    @Test func disconnectMidDataClosesWithoutReply() throws {
        guard SMTPUpstreamPeer.canRun(), SmtplibClient.canRun() else { return }
        var options = SMTPUpstreamOptions()
        options.disconnectMidDataAfter = 100
        try expectNoFileDescriptorLeak {
            let upstream = try SMTPUpstreamPeer(options)
            var o = SmtplibOptions()
            o.generatedSize = 5000
            let viaData = try #require(try SmtplibClient.send(to: upstream.address, o).messages.first)
            #expect(viaData.code(for: "DATA") == 354)
            #expect(viaData.finalCode == nil && viaData.error != nil, "\(viaData.steps) \(viaData.error ?? "")")
            o.chunkSize = 1000
            let viaBDAT = try #require(try SmtplibClient.send(to: upstream.address, o).messages.first)
            #expect(viaBDAT.finalCode == nil && viaBDAT.error != nil, "\(viaBDAT.steps)")
            #expect(upstream.waitForEvents("DISCONNECT", count: 2))
            #expect(try upstream.messages().isEmpty)
        }
    }

    @Test func slowRepliesAddTheirDelay() throws {
        guard SMTPUpstreamPeer.canRun(), SmtplibClient.canRun() else { return }
        var options = SMTPUpstreamOptions()
        options.replyDelay = 0.15
        try expectNoFileDescriptorLeak {
            let upstream = try SMTPUpstreamPeer(options)
            let sent = try #require(try SmtplibClient.send(to: upstream.address).messages.first)
            #expect(sent.finalCode == 250)
            // CONNECT, EHLO, MAIL, RCPT, DATA, DOT, QUIT: seven replies, each delayed.
            #expect(sent.steps.count == 7)
            #expect(sent.elapsed >= 7 * 0.15, "took \(sent.elapsed) s")
        }
    }

    @Test func greeting421() throws {
        guard SMTPUpstreamPeer.canRun(), SmtplibClient.canRun(), SwaksClient.canRun() else { return }
        var options = SMTPUpstreamOptions()
        options.greet421 = true
        try expectNoFileDescriptorLeak {
            let upstream = try SMTPUpstreamPeer(options)
            let sent = try #require(try SmtplibClient.send(to: upstream.address).messages.first)
            #expect(sent.steps.map(\.command) == ["CONNECT"] && sent.code(for: "CONNECT") == 421)
            #expect(sent.error != nil)
            let swaks = try SwaksClient.send(to: upstream.address)
            #expect(swaks.status == 21 && swaks.code(for: "CONNECT") == 421, "\(swaks.transcript)")
            #expect(try upstream.messages().isEmpty)
        }
    }

    @Test func capabilitiesCanBeTurnedOff() throws {
        guard SMTPUpstreamPeer.canRun(), SmtplibClient.canRun(), SwaksClient.canRun() else { return }
        var options = SMTPUpstreamOptions()
        options.chunking = false
        options.smtputf8 = false
        options.eightBitMIME = false
        options.pipelining = false
        let off = ["CHUNKING", "SMTPUTF8", "8BITMIME", "PIPELINING"]
        try expectNoFileDescriptorLeak {
            let upstream = try SMTPUpstreamPeer(options)
            let swaks = try SwaksClient.send(to: upstream.address)
            #expect(swaks.status == 0)
            #expect(swaks.ehloKeywords.contains("SIZE") && !swaks.ehloKeywords.contains { off.contains($0) }, "\(swaks.ehloKeywords)")
            var o = SmtplibOptions()
            o.chunkSize = 100
            let bdat = try #require(try SmtplibClient.send(to: upstream.address, o).messages.first)
            #expect(!bdat.capabilities.contains { off.contains($0) }, "\(bdat.capabilities)")
            #expect(bdat.code(for: "BDAT") == 500, "BDAT is unknown without CHUNKING: \(bdat.steps)")
            o.chunkSize = nil
            o.mailOptions = ["BODY=8BITMIME"]
            #expect(try SmtplibClient.send(to: upstream.address, o).messages.first?.code(for: "MAIL") == 555)
            o.mailOptions = ["SMTPUTF8"]
            let utf8 = try #require(try SmtplibClient.send(to: upstream.address, o).messages.first)
            #expect(utf8.error?.contains("SMTPNotSupportedError") == true, "smtplib refuses SMTPUTF8 itself")
            o.pipelining = true
            #expect(try SmtplibClient.send(to: upstream.address, o).messages.first?.code(for: "MAIL") == 501,
                    "and the server refuses it when sent anyway")
        }
    }

    @Test func sizeLimit() throws {
        guard SMTPUpstreamPeer.canRun(), SmtplibClient.canRun() else { return }
        var options = SMTPUpstreamOptions()
        options.maxSize = 1000
        try expectNoFileDescriptorLeak {
            let upstream = try SMTPUpstreamPeer(options)
            var o = SmtplibOptions()
            o.generatedSize = 5000
            let big = try #require(try SmtplibClient.send(to: upstream.address, o).messages.first)
            #expect(big.finalCode == 552)
            o.mailOptions = ["SIZE=5000"]
            #expect(try SmtplibClient.send(to: upstream.address, o).messages.first?.code(for: "MAIL") == 552)
            o.mailOptions = []
            o.generatedSize = 500
            #expect(try SmtplibClient.send(to: upstream.address, o).messages.first?.finalCode == 250)
        }
    }

    // MARK: smtp-sink faults

    @Test func smtpSinkRefusesWhatItIsTold() throws {
        guard SMTPSinkPeer.canRun(), SmtplibClient.canRun() else { return }
        try expectNoFileDescriptorLeak {
            var rcpt = SMTPSinkOptions()
            rcpt.hardReject = ["RCPT"]
            rcpt.hardReply = "550 5.1.1 No such user"
            let refusing = try SMTPSinkPeer(rcpt)
            let refused = try #require(try SmtplibClient.send(to: refusing.address).messages.first)
            #expect(refused.code(for: "RCPT") == 550 && refused.code(for: "DATA") == nil)
            #expect(!refused.capabilities.contains("PIPELINING"), "-f and -r imply -p")

            var dot = SMTPSinkOptions()
            dot.softReject = ["."]
            let deferring = try SMTPSinkPeer(dot)
            let deferred = try #require(try SmtplibClient.send(to: deferring.address).messages.first)
            #expect(deferred.finalCode == 450)
            // smtp-sink counts (and captures) a message when its "." arrives, refused or not.
            #expect(try deferring.waitForMessages(count: 1).messages == 1)
            #expect(try deferring.messages().count == 1)

            var closing = SMTPSinkOptions()
            closing.closeWith421On = ["MAIL"]
            closing.capture = false
            let closer = try SMTPSinkPeer(closing)
            let closed = try #require(try SmtplibClient.send(to: closer.address).messages.first)
            #expect(closed.code(for: "MAIL") == 421)
        }
    }

    // MARK: Helpers

    /// SHA-256 by coreutils, independent of the peer that computed the record's.
    private static func sha256(_ bytes: [UInt8]) throws -> String {
        let directory = try TemporaryDirectory("sha256")
        let r = try PeerProcess.run("/usr/bin/sha256sum", [try directory.write("data", bytes)])
        return String(r.stdoutText.prefix(64))
    }
}
