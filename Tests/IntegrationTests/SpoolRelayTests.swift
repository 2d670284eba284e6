import Foundation
import Glibc
import Testing
@testable import UringRelay

/// `smtp --mode queue` end to end on both engines, the relay in this process: messages are
/// accepted while the upstream is down and delivered byte-identical once it is back; mixed
/// per-recipient outcomes; the retry schedule (short, configured durations) up to expiry and
/// its DSN; a full spool answers 452. The SIGKILL test with the real binary is
/// `SpoolCrashTests`.
@Suite(.serialized) struct SpoolRelayTests {
    static let message = SMTPPeerSelfTests.message

    /// A loopback port nobody listens on now (bound, read, closed).
    static func freePort() throws -> UInt16 {
        let fd = try Socket.makeListener(.ipv4Loopback(port: 0), reusePort: false, backlog: 1)
        defer { close(fd) }
        return try Socket.localAddress(of: fd).port
    }

    static func queueRelay(_ engine: EngineChoice, upstream: SocketAddress, spool: String,
                           configure: (inout SMTPRelayConfig) -> Void = { _ in }) throws -> SMTPRelayUnderTest {
        try SMTPRelayUnderTest(engine, upstream: upstream) { c in
            c.delivery = .queue
            c.spoolDirectory = spool
            c.connectTimeoutMs = 1_000
            configure(&c)
        }
    }

    static func runQueueCommand(_ args: [String]) throws -> PeerRun {
        try PeerProcess.run(TestEnvironment.relayBinary, ["queue"] + args, timeout: 10)
    }

    @Test(arguments: engines)
    func acceptedWhileUpstreamDownThenDeliveredIntact(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SMTPUpstreamPeer.canRun(), SmtplibClient.canRun() else { return }
        let dir = try TemporaryDirectory("spool")
        let port = try Self.freePort()
        let relay = try Self.queueRelay(engine, upstream: .ipv4Loopback(port: port), spool: dir.file("spool"))
        defer { relay.stop() }
        var o = SmtplibOptions()
        o.body = Self.message
        o.messages = 5
        o.recipients = ["a@upstream.test", "b@upstream.test"]
        let r = try SmtplibClient.send(to: relay.address, o)
        #expect(r.messages.count == 5 && r.messages.allSatisfy { $0.finalCode == 250 }, "\(r.messages.map(\.steps))")
        // Every attempt so far was refused: all five wait, with the reason.
        #expect(pollUntil(5) {
            (try? Self.runQueueCommand(["list", "--spool", dir.file("spool")]))?.stdoutText
                .split(separator: "\n").filter { $0.contains("ECONNREFUSED") }.count == 5
        })
        var uo = SMTPUpstreamOptions()
        uo.port = port
        let upstream = try SMTPUpstreamPeer(uo)
        defer { _ = upstream.stop() }
        let flush = try Self.runQueueCommand(["flush", "--spool", dir.file("spool")])
        #expect(flush.status == 0, "\(flush.stderr)")
        let delivered = try upstream.waitForMessages(count: 5, timeout: 10)
        #expect(delivered.count == 5)
        for m in delivered {
            #expect(m.accepted && m.body.withoutTraceHeaders == Self.message, "byte-identical after the Received field")
            #expect(m.recipients == ["a@upstream.test", "b@upstream.test"] && m.mailFrom == "sender@client.test")
            #expect(String(decoding: m.body.prefix(300), as: UTF8.self).contains("by relay.test (uring-relay) with ESMTP id "))
        }
        #expect(pollUntil(5) { (try? FileManager.default.contentsOfDirectory(atPath: dir.file("spool/queue")))?.isEmpty == true },
                "delivered messages leave the spool")
        // The worker unlinks a delivered message, then gives its bytes back: poll, not peek.
        #expect(pollUntil(5) { relay.server.mode.spool?.accounting.usedBytes == 0 }, "and free their space")
    }

    @Test(arguments: engines)
    func mixedOutcomesPerRecipientAndTheBounce(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SMTPUpstreamPeer.canRun(), SmtplibClient.canRun() else { return }
        let dir = try TemporaryDirectory("spool")
        var uo = SMTPUpstreamOptions()
        uo.refuseRecipients = ["gone@upstream.test"]
        uo.tempfailRecipients = ["busy@upstream.test"]
        let upstream = try SMTPUpstreamPeer(uo)
        defer { _ = upstream.stop() }
        let relay = try Self.queueRelay(engine, upstream: upstream.address, spool: dir.file("spool")) { c in
            c.retrySchedule = SpoolRetrySchedule(initialDelayMs: 300, maxDelayMs: 600, maxAgeMs: 60_000)
        }
        defer { relay.stop() }
        var o = SmtplibOptions()
        o.body = Self.message
        o.recipients = ["ok@upstream.test", "gone@upstream.test", "busy@upstream.test"]
        let r = try SmtplibClient.send(to: relay.address, o)
        #expect(r.messages.first?.finalCode == 250)
        // The message for ok@ (gone@ refused, busy@ deferred), then the DSN to the sender.
        let first = try upstream.waitForMessages(count: 2, timeout: 10)
        let original = try #require(first.first { $0.mailFrom == "sender@client.test" })
        #expect(original.recipients == ["ok@upstream.test"])
        #expect(original.body.withoutTraceHeaders == Self.message)
        let dsn = try #require(first.first { $0.mailFrom == "<>" })
        #expect(dsn.recipients == ["sender@client.test"], "the bounce goes to the reverse-path with MAIL FROM:<>")
        let text = String(decoding: dsn.body, as: UTF8.self)
        #expect(text.contains("From: MAILER-DAEMON@relay.test"))
        #expect(text.contains("Content-Type: multipart/report; report-type=delivery-status;"))
        #expect(text.contains("Content-Type: message/delivery-status"))
        #expect(text.contains("Final-Recipient: rfc822; gone@upstream.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"))
        #expect(!text.contains("Final-Recipient: rfc822; ok@upstream.test") && !text.contains("Final-Recipient: rfc822; busy@"))
        #expect(text.contains("Content-Type: text/rfc822-headers\r\n\r\nReceived: from client.test"), "original headers attached")
        #expect(text.contains("Subject: peer self-test\r\n"))
        #expect(!text.contains(".a line starting with a dot"), "the body is not returned")
        // busy@ keeps being retried, only busy@ (no duplicate for ok@), on the schedule.
        #expect(upstream.waitForEvents("CONNECT", count: 1, timeout: 1))
        let spoolDir = dir.file("spool")
        #expect(pollUntil(5) {
            guard let list = try? Self.runQueueCommand(["list", "--spool", spoolDir]).stdoutText else { return false }
            return list.contains("\t1/3\t") && list.contains("451 4.2.0")
        }, "one of three recipients pending, with its last error")
        #expect(try upstream.messages().filter { $0.recipients.contains("ok@upstream.test") }.count == 1)
    }

    @Test(arguments: engines)
    func retriesBackOffThenExpireIntoADSN(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SMTPUpstreamPeer.canRun(), SmtplibClient.canRun() else { return }
        let dir = try TemporaryDirectory("spool")
        var uo = SMTPUpstreamOptions()
        uo.tempfailData = true  // every attempt: 451 at the end of data
        let upstream = try SMTPUpstreamPeer(uo)
        defer { _ = upstream.stop() }
        // 200 ms, 400 ms, 800 ms, 800 ms...; given up 2.5 s after arrival.
        let relay = try Self.queueRelay(engine, upstream: upstream.address, spool: dir.file("spool")) { c in
            c.retrySchedule = SpoolRetrySchedule(initialDelayMs: 200, maxDelayMs: 800, maxAgeMs: 2_500)
        }
        defer { relay.stop() }
        var o = SmtplibOptions()
        o.body = Self.message
        let start = now()
        let r = try SmtplibClient.send(to: relay.address, o)
        #expect(r.messages.first?.finalCode == 250)
        // The DSN is accepted by nobody either (tempfail-data refuses it too): wait for the
        // original's attempts and the first DSN attempt.
        #expect(pollUntil(10) { ((try? upstream.messages()) ?? []).contains { $0.mailFrom == "<>" } }, "a DSN after expiry")
        let records = try upstream.messages()
        let attempts = records.filter { $0.mailFrom == "sender@client.test" }
        // Attempts at ~0, 0.2, 0.6, 1.4, 2.2 s (then expired at the one after 2.5 s): 5 or 6.
        #expect(attempts.count >= 4 && attempts.count <= 7, "\(attempts.count) attempts in \(now() - start) s")
        let dsn = try #require(records.first { $0.mailFrom == "<>" })
        let text = String(decoding: dsn.body, as: UTF8.self)
        #expect(text.contains("Final-Recipient: rfc822; rcpt@upstream.test\r\nAction: failed\r\nStatus: 4.4.7\r\n"))
        #expect(text.contains("Diagnostic-Code: smtp; delivery time expired after"))
        #expect(text.contains("451 4.3.0"), "the last error is named")
    }

    @Test(arguments: engines)
    func aFullSpoolAnswers452AndKeepsNothing(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SmtplibClient.canRun() else { return }
        let dir = try TemporaryDirectory("spool")
        let port = try Self.freePort()  // no upstream: everything stays
        let relay = try Self.queueRelay(engine, upstream: .ipv4Loopback(port: port), spool: dir.file("spool")) { c in
            c.spoolMaxBytes = 6000
            c.retrySchedule = SpoolRetrySchedule(initialDelayMs: 600_000, maxDelayMs: 600_000, maxAgeMs: 86_400_000)
        }
        defer { relay.stop() }
        var o = SmtplibOptions()
        o.generatedSize = 2000
        o.messages = 4
        let r = try SmtplibClient.send(to: relay.address, o)
        let codes = r.messages.map { $0.finalCode ?? $0.code(for: "MAIL") ?? 0 }
        // Two fit (2.4 KB each with header and Received); the others get 452 (at MAIL when a
        // SIZE= says they cannot fit, else at their end of data).
        #expect(codes.prefix(2).allSatisfy { $0 == 250 }, "\(codes)")
        #expect(codes.dropFirst(2).allSatisfy { $0 == 452 }, "\(codes)")
        if SwaksClient.canRun() {
            // swaks declares no SIZE: accepted at MAIL, the body overflows, 452 at its end.
            let big = Array("Subject: big\r\n\r\n".utf8) + (0..<30).flatMap { _ in Array((String(repeating: "y", count: 70) + "\r\n").utf8) }
            let s = try SwaksClient.send(to: relay.address, recipients: ["r@upstream.test"], data: big, pipelining: false)
            #expect(s.code(for: "MAIL") == 250 && s.code(for: "DOT") == 452, "\(s.transcript)")
        }
        // Declaring a SIZE that cannot fit is refused at MAIL.
        let client = try SMTPTestClient(relay.address)
        defer { client.close() }
        _ = try client.hello()
        #expect(try client.command("MAIL FROM:<a@client.test> SIZE=5000") == 452)
        let queued = try FileManager.default.contentsOfDirectory(atPath: dir.file("spool/queue"))
        #expect(queued.filter { !$0.hasSuffix(".state") }.count == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("spool/tmp")).isEmpty, "the refused one's file is gone")
        #expect((relay.server.mode.spool?.accounting.usedBytes ?? 0) <= 6000)
        // `queue delete` (what the command does: remove, touch the marker) frees the space
        // within a tick, not at the message's next retry ten minutes away.
        let spool = SpoolDirectory(path: dir.file("spool"))
        for name in queued where !name.hasSuffix(".state") { #expect(spool.remove(id: name)) }
        #expect(spool.touchDeleteMarker())
        #expect(pollUntil(5) { (relay.server.mode.spool?.accounting.usedBytes ?? 1) == 0 }, "deleted mail frees the spool")
        #expect(try client.command("MAIL FROM:<a@client.test> SIZE=2000") == 250)
    }

    @Test(arguments: engines)
    func aLoopingMessageIsRefusedNotSpooled(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine) else { return }
        let dir = try TemporaryDirectory("spool")
        let port = try Self.freePort()
        let relay = try Self.queueRelay(engine, upstream: .ipv4Loopback(port: port), spool: dir.file("spool")) { c in
            c.maxHops = 5
        }
        defer { relay.stop() }
        let client = try SMTPTestClient(relay.address)
        defer { client.close() }
        _ = try client.hello()
        #expect(try client.command("MAIL FROM:<a@client.test>") == 250)
        #expect(try client.command("RCPT TO:<r@upstream.test>") == 250)
        #expect(try client.command("DATA") == 354)
        let fields = (0..<5).map { "Received: from hop\($0) by relay.test; Thu, 3 Dec 2026 10:00:00 +0000\r\n" }.joined()
        try client.send(fields + "Subject: loop\r\n\r\nbody\r\n.\r\n")
        #expect(try client.reply().code == 554)
        let queued = try FileManager.default.contentsOfDirectory(atPath: dir.file("spool/queue"))
        #expect(queued.isEmpty, "nothing spooled: \(queued)")
        #expect((relay.server.mode.spool?.accounting.usedBytes ?? 1) == 0)
    }

    @Test func startupRemovesPartialFilesAndRefusesAnotherVersion() throws {
        let dir = try TemporaryDirectory("spool")
        let spool = SpoolDirectory(path: dir.file("spool"))
        #expect(try spool.open(create: true).isEmpty)
        try dir.write("spool/tmp/HALF.0.1", Array("uring-relay spool 1\nid HALF".utf8))
        let envelope = SpoolEnvelope(id: "OK.0.1", arrivalUnixMs: 1, reversePath: "<a@b>", mailParameters: "", recipients: ["<c@d>"])
        try dir.write("spool/queue/OK.0.1", envelope.encodedHeader() + Array("Subject: x\r\n\r\nbody\r\n".utf8))
        try dir.write("spool/queue/GONE.0.1.state", Array("uring-relay spool-state 1\n".utf8))
        let found = try spool.open(create: true)
        #expect(found.map(\.id) == ["OK.0.1"])
        #expect(found.first?.bodyBytes == 20)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("spool/tmp")).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir.file("spool/queue/GONE.0.1.state")))
        try dir.write("spool/VERSION", Array("uring-relay spool 2\n".utf8))
        #expect(throws: SpoolError.self) { try spool.open(create: true) }
    }

    @Test func queueCommandsListDeleteAndTheirErrors() throws {
        let dir = try TemporaryDirectory("spool")
        let spool = SpoolDirectory(path: dir.file("spool"))
        _ = try spool.open(create: true)
        let envelope = SpoolEnvelope(id: "AB.0.1", arrivalUnixMs: 1000, reversePath: "<a@b>", mailParameters: "", recipients: ["<c@d>", "<e@f>"])
        try dir.write("spool/queue/AB.0.1", envelope.encodedHeader() + Array("x\r\n".utf8))
        let list = try Self.runQueueCommand(["list", "--spool", spool.path])
        #expect(list.status == 0)
        #expect(list.stdoutText.contains("AB.0.1\t") && list.stdoutText.contains("\t2/2\tnow\t<a@b>\t-"), "\(list.stdoutText)")
        #expect(try Self.runQueueCommand(["delete", "AB.0.1", "--spool", spool.path]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: dir.file("spool/queue/AB.0.1")))
        let missing = try Self.runQueueCommand(["delete", "AB.0.1", "--spool", spool.path])
        #expect(missing.status == 1 && missing.stderr.contains("no message AB.0.1"))
        #expect(try Self.runQueueCommand(["delete", "../VERSION", "--spool", spool.path]).status == 2)
        #expect(try Self.runQueueCommand(["frob", "--spool", spool.path]).status == 2)
        #expect(try Self.runQueueCommand(["list"]).status == 2)
        #expect(try Self.runQueueCommand(["list", "--spool", dir.file("nothing")]).status == 1)
    }
}
