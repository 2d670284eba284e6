import Foundation
import Glibc
import Testing
@testable import UringRelay

/// Crash safety of `smtp --mode queue`, with the real binary: smtp-source loads it while it
/// is killed with SIGKILL at random moments and restarted on the same spool, a few times; at
/// the end every message smtp-source got a 250 for has reached the upstream (matched by the
/// queue id, which the relay's Received field carries), every delivered body is intact, and
/// the spool is empty. Duplicates are allowed: the promise is at least once.
@Suite(.serialized) struct SpoolCrashTests {
    static let message = Array("From: <sender@client.test>\nTo: <rcpt@upstream.test>\nSubject: crash test\n\n".utf8)
        + (0..<40).flatMap { i in Array("line \(i) of a message that must arrive whole, or not at all\n".utf8) }

    final class Relay {
        let process: PeerProcess
        let port: UInt16
        init(_ engine: EngineChoice, upstream: SocketAddress, spool: String) throws {
            let process = try PeerProcess(TestEnvironment.relayBinary, [
                "smtp", "--listen", "127.0.0.1:0", "--upstream", upstream.description, "--hostname", "relay.test",
                "--mode", "queue", "--spool", spool, "--engine", engine.rawValue, "--threads", "2",
                "--retry-initial", "200ms", "--retry-max", "1s", "--connect-timeout", "1s", "--buffers", "256",
            ])
            var found: UInt16?
            _ = pollUntil(10) {
                found = ListeningPortProbe.port(of: process.pid)
                return found != nil || !process.isRunning
            }
            guard let found else { throw PeerFailure("relay did not listen: \(process.stderrText)") }
            self.process = process
            port = found
        }
    }

    @Test func aSecondRelayOnTheSameSpoolIsRefused() throws {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("spool-lock-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: spool) }
        // No fd-leak check here: this may be the process's first child, and Foundation keeps
        // its process-monitoring fds open from then on.
        do {
            let first = try Relay(.auto, upstream: .ipv4Loopback(port: 9), spool: spool)
            defer { _ = first.process.stop() }
            let second = try PeerProcess(TestEnvironment.relayBinary, [
                "smtp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--hostname", "relay.test",
                "--mode", "queue", "--spool", spool])
            #expect(second.waitForExit(timeout: 10), "the second relay exits")
            let (status, _) = second.stop()
            #expect(status == 1, "exit 1: \(second.stderrText)")
            #expect(second.stderrText.contains("in use by another relay"), "\(second.stderrText)")
            #expect(first.process.isRunning)
        }
    }

    static func queuedIDs(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            guard let r = line.range(of: "250 2.0.0 Ok: queued as ") else { return nil }
            return String(line[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
    }

    /// The queue id in a delivered message's Received field ("... with ESMTP id ID; date").
    static func receivedID(_ body: [UInt8]) -> String? {
        let head = String(decoding: body.prefix(400), as: UTF8.self)
        guard let r = head.range(of: " id ") else { return nil }
        return String(head[r.upperBound...].prefix { $0 != ";" })
    }

    @Test(arguments: engines)
    func everyAcknowledgedMessageSurvivesSIGKILL(engine: EngineChoice) throws {
        guard TestEnvironment.canRun(engine), SMTPUpstreamPeer.canRun(), SMTPSourceLoad.canRun() else { return }
        let dir = try TemporaryDirectory("spool-crash")
        let upstream = try SMTPUpstreamPeer()
        defer { _ = upstream.stop() }
        let spool = dir.file("spool")
        let file = try dir.write("message", Self.message)
        var acknowledged: [String] = []
        var rng = SystemRandomNumberGenerator()
        let rounds = 4
        for round in 0..<rounds {
            let relay = try Relay(engine, upstream: upstream.address, spool: spool)
            let source = try PeerProcess(SMTPSourceLoad.path, ["-v", "-s", "10", "-m", "400", "-d", "-A", "-F", file,
                                                               "-f", "sender@client.test", "-t", "rcpt@upstream.test",
                                                               "-M", "client.test", "inet:127.0.0.1:\(relay.port)"])
            if round < rounds - 1 {
                // Somewhere in the middle of the load: mid-body, mid-sync, mid-delivery.
                usleep(UInt32.random(in: 150_000...600_000, using: &rng))
                relay.process.stop(SIGKILL)
                source.waitForExit(timeout: 20)
            } else {
                source.waitForExit(timeout: 60)
                // Let it deliver what is left before the last stop.
                _ = pollUntil(20) {
                    let ids = Set(((try? upstream.deliveredMessages()) ?? []).compactMap { Self.receivedID($0.body) })
                    return Set(acknowledged + Self.queuedIDs(source.stderrText)).isSubset(of: ids)
                }
                relay.process.stop(SIGTERM)
            }
            source.stop()
            acknowledged += Self.queuedIDs(source.stderrText)
        }
        #expect(acknowledged.count > 400, "the load got going: \(acknowledged.count) acknowledged")
        let delivered = try upstream.deliveredMessages()
        let expected = SMTPSourceLoad.expectedBody(messageFile: Self.message)
        #expect(delivered.allSatisfy { $0.body.withoutTraceHeaders == expected }, "nothing half-written was delivered")
        let deliveredIDs = Set(delivered.compactMap { Self.receivedID($0.body) })
        let lost = Set(acknowledged).subtracting(deliveredIDs)
        #expect(lost.isEmpty, "\(lost.count) of \(acknowledged.count) acknowledged messages lost, e.g. \(lost.prefix(3))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("spool/tmp")).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("spool/queue")).isEmpty, "all delivered, none left")
    }
}
