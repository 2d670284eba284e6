import Glibc
import Testing
@testable import relay_bench
@testable import UringRelay

/// relay-bench's tcp scenario in miniature through the real uring-relay on both engines: a
/// short bulk run into the verifying sink and a short open-loop echo run, both valid, with the
/// rate paced as offered.
@Suite(.serialized) struct TCPBenchTests {
    @Test(arguments: ["uring", "epoll"])
    func bulkAndRequestResponseThroughTheRelay(engine: String) throws {
        guard TestEnvironment.canRun(engine == "uring" ? .uring : .epoll) else { return }
        let pattern = StreamPattern()
        let peer = try BenchPeer(pattern: pattern, cpu: nil)
        peer.start()
        defer { peer.stop() }
        let relay = try RelayProcess.start(path: TestEnvironment.relayBinary, mode: "tcp", engine: engine,
                                           arguments: ["--upstream", "127.0.0.1:\(peer.port)", "--threads", "1"], cpu: nil)
        let bulk = BulkLoad(relayPort: relay.port, relayPid: relay.pid, connections: 2, durationNs: 200_000_000,
                            run: 1, cpu: nil, pattern: pattern, peer: peer).execute()
        #expect(bulk.problems == [])
        #expect(bulk.bytesAtSink > 0 && bulk.bytesAtSink == bulk.bytesSent, "every byte sent was verified at the sink")
        let rr = RequestResponseLoad(relayPort: relay.port, relayPid: relay.pid, connections: 8, rate: 2000,
                                     durationNs: 500_000_000, warmupNs: 100_000_000, run: 2, cpu: nil).execute()
        #expect(rr.problems == [])
        // Open loop at 2000/s for 0.5 s: about 1000 measured replies, whatever the latency.
        #expect((950...1050).contains(Int(rr.histogram.count)), "\(rr.histogram.count) replies measured")
        #expect(relay.stop() == "exit 0")
    }
}
