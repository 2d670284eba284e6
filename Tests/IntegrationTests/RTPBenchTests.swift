import Glibc
import Testing
@testable import relay_bench
@testable import UringRelay

/// relay-bench's rtp scenario in miniature, through the real uring-relay on both engines: a
/// valid run means every datagram reached every receiver once, in order and intact (within
/// the loss allowance), with latencies recorded for the measured window.
@Suite(.serialized) struct RTPBenchTests {
    static func load(_ relay: RelayProcess, _ receivers: RTPReceiverSockets) -> RTPLoad {
        RTPLoad(relayPort: relay.port, relayPid: relay.pid, receivers: receivers, packetRate: 1000, packetBytes: 1200,
                warmupNs: 50_000_000, durationNs: 200_000_000, cpu: nil)
    }

    @Test(arguments: ["uring", "epoll"])
    func throughTheRelay(engine: String) throws {
        guard TestEnvironment.canRun(engine == "uring" ? .uring : .epoll) else { return }
        let receivers = try RTPReceiverSockets(count: 3, receiveBufferBytes: 1 << 20)
        let relay = try RTPScenario.startRelay(path: TestEnvironment.relayBinary, engine: engine, receivers: receivers, cpu: nil)
        let o = Self.load(relay, receivers).execute()
        #expect(o.problems == [])
        // 250 ms at 1000 packets/s to 3 receivers; 200 of them due in the measured window.
        #expect(o.packetsSent == 250 && o.expectedDatagrams == 750)
        #expect(o.receivedDatagrams >= 749)
        #expect((597...600).contains(o.measuredDatagrams))
        #expect(o.histogram.count == UInt64(o.measuredDatagrams))
        #expect(o.relayCPUSeconds != nil)
        #expect(relay.stop() == "exit 0")
    }

    /// The check is real: a receiver the relay does not send to loses everything, and the run
    /// is invalid.
    @Test func missingReceiverMakesTheRunInvalid() throws {
        guard TestEnvironment.canRun(.epoll) else { return }
        let served = try RTPReceiverSockets(count: 2, receiveBufferBytes: 1 << 20)
        let relay = try RTPScenario.startRelay(path: TestEnvironment.relayBinary, engine: "epoll", receivers: served, cpu: nil)
        defer { relay.stop() }
        let expected = try RTPReceiverSockets(count: 3, receiveBufferBytes: 1 << 20)
        // The first two of `expected` are not the relay's: only fresh sockets, none served.
        var load = Self.load(relay, expected)
        load.drainNs = 100_000_000
        let o = load.execute()
        #expect(!o.valid)
        #expect(o.lostDatagrams == 750)
        #expect(o.problems.contains { $0.contains("lost") })
    }
}
