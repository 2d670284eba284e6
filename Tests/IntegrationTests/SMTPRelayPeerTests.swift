import Foundation
import Testing
@testable import UringRelay

/// The SMTP relay between real programs, on both engines: swaks, Python smtplib and Postfix's
/// smtp-source as clients; aiosmtpd and Postfix's smtp-sink as upstreams; faults from their
/// own options. The same peers pass `SMTPPeerSelfTests` without the relay.
@Suite(.serialized) struct SMTPRelayPeerTests {
    static let message = SMTPPeerSelfTests.message

    // MARK: - Clients

    @Test(arguments: engines, [false, true])
    func swaksThroughTheRelayArrivesIntact(engine: EngineChoice, pipelining: Bool) throws {
        guard TestEnvironment.canRun(engine), SMTPUpstreamPeer.canRun(), SwaksClient.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let upstream = try SMTPUpstreamPeer()
            let relay = try SMTPRelayUnderTest(engine, upstream: upstream.address)
            defer { relay.stop(); _ = upstream.stop() }
            let r = try SwaksClient.send(to: relay.address, recipients: ["a@upstream.test", "b@upstream.test"],
                                         data: Self.message, pipelining: pipelining)
            #expect(r.status == 0, "swaks: \(r.transcript) \(r.stderr)")
            #expect(r.codes(for: "RCPT") == [250, 250])
            #expect(r.code(for: "DOT") == 250)
            #expect(r.code(for: "QUIT") == 221)
            for keyword in ["PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING"] {
                #expect(r.ehloKeywords.contains(keyword), "relay's EHLO lacks \(keyword)")
            }
            let m = try #require(try upstream.waitForMessages(count: 1).first)
            #expect(m.body.withoutTraceHeaders == Self.message, "body byte-identical after our Received header")
            let received = String(decoding: m.body.prefix(200), as: UTF8.self)
            #expect(received.hasPrefix("Received: from client.test ([127.0.0.1])"), "\(received)")
            #expect(received.contains("by relay.test (uring-relay) with ESMTP id "))
            #expect(m.mailFrom == "sender@client.test")
            #expect(m.recipients == ["a@upstream.test", "b@upstream.test"])
            #expect(m.helo == "relay.test", "the relay greets the upstream with its own name")
        }
    }

    @Test(arguments: engines)
    func smtplibThroughTheRelayToSmtpSink(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SMTPSinkPeer.canRun(), SmtplibClient.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let sink = try SMTPSinkPeer()
            let relay = try SMTPRelayUnderTest(engine, upstream: sink.address)
            defer { relay.stop(); sink.stop() }
            var o = SmtplibOptions()
            o.body = Self.message
            o.messages = 5
            o.recipients = ["x@sink.test", "y@sink.test"]
            let r = try SmtplibClient.send(to: relay.address, o)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.messages.count == 5)
            #expect(r.messages.allSatisfy { $0.error == nil && $0.finalCode == 250 }, "\(r.messages.map(\.steps))")
            try sink.waitForMessages(count: 5)
            let captured = try sink.messages()
            #expect(captured.count == 5)
            for c in captured {
                #expect(c.contentCRLF.withoutTraceHeaders == Self.message)
                #expect(c.sender == "sender@client.test")
                #expect(c.recipients == ["x@sink.test", "y@sink.test"])
                #expect(c.helo == "relay.test")
            }
        }
    }

    @Test(arguments: engines)
    func smtplibPipeliningAndBDATThroughTheRelay(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SMTPUpstreamPeer.canRun(), SmtplibClient.canRun() else { return }
        let upstream = try SMTPUpstreamPeer()
        let relay = try SMTPRelayUnderTest(engine, upstream: upstream.address)
        defer { relay.stop(); _ = upstream.stop() }
        var o = SmtplibOptions()
        o.body = Self.message
        o.pipelining = true
        o.chunkSize = 300
        o.mailOptions = ["SMTPUTF8", "BODY=8BITMIME"]
        o.recipients = ["r\u{e9}sum\u{e9}@upstream.test"]
        let r = try SmtplibClient.send(to: relay.address, o)
        let sent = try #require(r.messages.first)
        #expect(sent.error == nil && sent.finalCode == 250, "\(sent.steps)")
        let m = try #require(try upstream.waitForMessages(count: 1).first)
        #expect(m.body.withoutTraceHeaders == Self.message, "BDAT chunks reassembled, byte-identical")
        #expect(m.transfer == "DATA", "the relay sends DATA upstream")
        #expect(m.smtputf8)
        #expect(m.mailOptions.contains("BODY=8BITMIME"))
        #expect(m.recipients == ["r\u{e9}sum\u{e9}@upstream.test"])
    }

    /// The load: smtp-source, 1000 messages over 20 sessions, every one counted
    /// upstream with identical body bytes.
    @Test(arguments: engines)
    func smtpSourceThousandMessagesOverTwentySessions(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SMTPUpstreamPeer.canRun(), SMTPSourceLoad.canRun() else { return }
        try expectNoFileDescriptorLeak {
            let upstream = try SMTPUpstreamPeer()
            let relay = try SMTPRelayUnderTest(engine, upstream: upstream.address)
            defer { relay.stop(); _ = upstream.stop() }
            let file = Array("Subject: load\n\n.dot line\n..two\n".utf8) + Array(repeating: UInt8(ascii: "q"), count: 900) + [0x0A]
            var load = SMTPSourceLoad()
            load.sessions = 20
            load.messages = 1000
            load.messageFile = file
            let r = try load.run(against: relay.address, timeout: 120)
            #expect(r.status == 0 && !r.timedOut, "smtp-source: \(r.stderr)")
            let messages = try upstream.waitForMessages(count: 1000, timeout: 60)
            #expect(messages.count == 1000)
            let expected = SMTPSourceLoad.expectedBody(messageFile: file)
            let intact = messages.filter { $0.accepted && $0.body.withoutTraceHeaders == expected }.count
            #expect(intact == 1000, "\(intact) of 1000 byte-identical")
            #expect(relay.counters.messagesRelayedTotal == 1000)
            // Upstream connections are reused: far fewer than messages.
            #expect(upstream.connectionCount <= 40, "\(upstream.connectionCount) upstream connections for 1000 messages")
        }
    }

    @Test(arguments: engines)
    func smtpSourceToSmtpSinkCountsEveryMessage(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SMTPSinkPeer.canRun(), SMTPSourceLoad.canRun() else { return }
        var options = SMTPSinkOptions()
        options.capture = false
        let sink = try SMTPSinkPeer(options)
        let relay = try SMTPRelayUnderTest(engine, upstream: sink.address)
        defer { relay.stop(); sink.stop() }
        var load = SMTPSourceLoad()
        load.sessions = 20
        load.messages = 1000
        load.size = 2000
        let r = try load.run(against: relay.address, timeout: 120)
        #expect(r.status == 0 && !r.timedOut, "smtp-source: \(r.stderr)")
        #expect(try sink.waitForMessages(count: 1000, timeout: 30).messages == 1000)
        #expect(relay.counters.messagesRelayedTotal == 1000)
    }

    // MARK: - Faults from smtp-sink's own options

    @Test(arguments: engines)
    func smtpSinkRefusingRecipientsIsPassedBack(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SMTPSinkPeer.canRun(), SwaksClient.canRun() else { return }
        var options = SMTPSinkOptions()
        options.hardReject = ["rcpt"]
        let sink = try SMTPSinkPeer(options)
        let relay = try SMTPRelayUnderTest(engine, upstream: sink.address)
        defer { relay.stop(); sink.stop() }
        let r = try SwaksClient.send(to: relay.address, data: Self.message)
        #expect(r.code(for: "RCPT").map { $0 >= 500 && $0 < 600 } == true, "\(r.transcript)")
        #expect(r.code(for: "DOT") == nil, "no body after every recipient was refused")
        #expect(sink.counters.messages == 0)
    }

    @Test(arguments: engines)
    func smtpSinkTempfailingDataIsPassedBack(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SMTPSinkPeer.canRun(), SwaksClient.canRun() else { return }
        var options = SMTPSinkOptions()
        options.softReject = ["."]
        let sink = try SMTPSinkPeer(options)
        let relay = try SMTPRelayUnderTest(engine, upstream: sink.address)
        defer { relay.stop(); sink.stop() }
        let r = try SwaksClient.send(to: relay.address, data: Self.message)
        let dot = try #require(r.code(for: "DOT"), "\(r.transcript)")
        #expect(dot >= 400 && dot < 500, "transient stays transient: \(dot)")
        #expect(relay.counters.messagesRelayedTotal == 0)
    }

    @Test(arguments: engines)
    func smtpSinkDisconnectingDuringDataIsTransient(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SMTPSinkPeer.canRun(), SwaksClient.canRun() else { return }
        var options = SMTPSinkOptions()
        options.disconnectOn = ["."]
        let sink = try SMTPSinkPeer(options)
        let relay = try SMTPRelayUnderTest(engine, upstream: sink.address)
        defer { relay.stop(); sink.stop() }
        let r = try SwaksClient.send(to: relay.address, data: Self.message)
        let dot = try #require(r.code(for: "DOT"), "\(r.transcript)")
        #expect(dot == 451, "never 250 and never 5xx: \(dot)")
    }

    @Test(arguments: engines)
    func smtpSinkAnsweringSlowlyTimesOutAsTransient(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SMTPSinkPeer.canRun(), SwaksClient.canRun() else { return }
        var options = SMTPSinkOptions()
        options.replyDelays = [(command: ".", seconds: 3)]
        let sink = try SMTPSinkPeer(options)
        let relay = try SMTPRelayUnderTest(engine, upstream: sink.address, configure: { $0.upstreamTimeoutMs = 1_000 })
        defer { relay.stop(); sink.stop() }
        let r = try SwaksClient.send(to: relay.address, data: Self.message)
        let dot = try #require(r.code(for: "DOT"), "\(r.transcript)")
        #expect(dot == 451, "a silent upstream: transient, got \(dot)")
    }

    @Test(arguments: engines)
    func aiosmtpdAnsweringSlowlyWithinTheTimeoutStillDelivers(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SMTPUpstreamPeer.canRun(), SwaksClient.canRun() else { return }
        var options = SMTPUpstreamOptions()
        options.replyDelay = 0.2
        let upstream = try SMTPUpstreamPeer(options)
        let relay = try SMTPRelayUnderTest(engine, upstream: upstream.address)
        defer { relay.stop(); _ = upstream.stop() }
        let r = try SwaksClient.send(to: relay.address, data: Self.message)
        #expect(r.code(for: "DOT") == 250, "\(r.transcript)")
        #expect(try upstream.waitForMessages(count: 1).count == 1)
    }
}
