import Glibc
import Testing
@testable import relay_bench
@testable import UringRelay

/// relay-bench's smtp scenario in miniature: its sink and load generator against each other,
/// then through the real uring-relay (both modes, both engines). A valid run means every
/// message was accepted, found once at the sink, intact, with the expected trace fields.
@Suite(.serialized) struct SMTPBenchTests {
    static func load(port: UInt16, relayPid: pid_t? = nil, sink: SMTPSink, size: Int, pacing: SMTPLoad.Pacing,
                     run: UInt16, receivedFields: Int = 0) -> SMTPLoad {
        SMTPLoad(port: port, relayPid: relayPid, sessions: 4, template: BenchMailTemplate(size: size), pacing: pacing,
                 warmupNs: 50_000_000, durationNs: 200_000_000, run: run, cpu: nil, sink: sink,
                 expectedReceivedFields: receivedFields)
    }

    @Test func loadGeneratorAgainstSinkDirectly() throws {
        try expectNoFileDescriptorLeak {
            let sink = try SMTPSink(cpu: nil)
            sink.start()
            defer { sink.stop() }
            let closed = Self.load(port: sink.port, sink: sink, size: 1024, pacing: .closedLoop, run: 1).execute()
            #expect(closed.problems == [])
            #expect(closed.measuredMessages > 0 && closed.acceptedMessages >= closed.measuredMessages)
            #expect(closed.histogram.count > 0 && closed.upstreamConnections == 4)

            let open = Self.load(port: sink.port, sink: sink, size: 20_000, pacing: .openLoop(messagesPerSecond: 1000), run: 2).execute()
            #expect(open.problems == [])
            // 200 ms at 1000/s after the warm-up: 200 measured messages, give or take rounding.
            #expect((199...201).contains(open.measuredMessages))
            #expect(open.histogram.count == UInt64(open.measuredMessages))
            #expect(open.acceptedMessages >= 249)

            // The check is real: expecting a relay's Received field where there is none fails the run.
            let wrong = Self.load(port: sink.port, sink: sink, size: 1024, pacing: .closedLoop, run: 3, receivedFields: 1).execute()
            #expect(!wrong.valid)
            #expect(wrong.problems.contains { $0.contains("Received field") })
        }
    }

    @Test(arguments: [SMTPRelayMode.smtp, .tcp], ["uring", "epoll"])
    func throughTheRelay(mode: SMTPRelayMode, engine: String) throws {
        guard TestEnvironment.canRun(engine == "uring" ? .uring : .epoll) else { return }
        let sink = try SMTPSink(cpu: nil)
        sink.start()
        defer { sink.stop() }
        let relay = try RelayProcess.start(path: TestEnvironment.relayBinary, mode: mode.rawValue, engine: engine,
                                           arguments: mode.arguments(sinkPort: sink.port), cpu: nil)
        let closed = Self.load(port: relay.port, relayPid: relay.pid, sink: sink, size: 16 * 1024, pacing: .closedLoop,
                               run: 10, receivedFields: mode.receivedFieldsAdded).execute()
        #expect(closed.problems == [])
        #expect(closed.measuredMessages > 0)
        #expect(closed.relayCPUSeconds != nil)
        let open = Self.load(port: relay.port, relayPid: relay.pid, sink: sink, size: 1024, pacing: .openLoop(messagesPerSecond: 500),
                             run: 11, receivedFields: mode.receivedFieldsAdded).execute()
        #expect(open.problems == [])
        #expect((99...101).contains(open.measuredMessages))
        #expect(relay.stop() == "exit 0")
    }
}
