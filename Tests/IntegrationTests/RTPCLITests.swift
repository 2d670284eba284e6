import Foundation
import Glibc
import Testing
@testable import UringRelay

/// `uring-relay rtp` as an operator meets it: help, one-line usage errors (exit 2), runtime
/// errors (exit 1), the banner, the periodic stats line, and a clean stop on SIGTERM.
@Suite struct RTPCLITests {
    let relay = TestEnvironment.relayBinary

    @Test func help() throws {
        let r = try ChildProcess.run(relay, ["rtp", "--help"])
        #expect(r.status == 0)
        for flag in ["--listen", "--to", "--engine", "--rtcp-to-source", "--buffers", "--max-sends", "--stats-interval"] {
            #expect(r.stdout.contains(flag), "help lacks \(flag)")
        }
        let top = try ChildProcess.run(relay, ["--help"])
        #expect(top.stdout.contains("rtp") && !top.stdout.contains("rtp     fan one RTP stream out to receivers             (not built yet)"))
    }

    @Test(arguments: [
        (["rtp"], "--listen is required"),
        (["rtp", "--listen", "127.0.0.1:5004"], "--to is required"),
        (["rtp", "--listen", "127.0.0.1:5004", "--to", "[::1]:6000"], "same address family"),
        (["rtp", "--listen", "127.0.0.1:5004", "--to", "127.0.0.1:65535"], "no RTP/RTCP pair"),
        // Found by a new user's trial: a receiver that is the relay itself loops for ever.
        (["rtp", "--listen", "127.0.0.1:5004", "--to", "127.0.0.1:5004"], "packets would loop"),
        (["rtp", "--listen", "127.0.0.1:5004", "--to", "127.0.0.1:5003"], "packets would loop"),
        (["rtp", "--listen", "0.0.0.0:5004", "--to", "127.0.0.1:5005"], "packets would loop"),
        (["rtp", "--listen", "127.0.0.1:5004", "--to", "127.0.0.1:6000", "--to", "localhost:6000"], "given twice"),
        (["rtp", "--listen", "127.0.0.1:65535", "--to", "127.0.0.1:6000"], "no port for RTCP"),
        (["rtp", "--listen", "127.0.0.1:5004", "--to", "127.0.0.1:6000", "--buffers", "1000"], "power of two"),
        (["rtp", "--listen", "127.0.0.1:5004", "--to", "127.0.0.1:6000", "--max-sends", "40000"], "--max-sends"),
        (["rtp", "--listen", "127.0.0.1:5004", "--to", "127.0.0.1:6000", "--to", "127.0.0.1:6002", "--max-destinations", "1"], "more than --max-destinations"),
        (["rtp", "--listen", "127.0.0.1:5004", "--to", "127.0.0.1:6000", "--stats-interval", "10"], "unit"),
        (["rtp", "--listen", "127.0.0.1:5004", "--to", "nonsense"], "--to"),
        (["rtp", "--listen", "127.0.0.1:5004", "--to", "127.0.0.1:6000", "extra"], "unexpected argument"),
    ])
    func usageErrorsExit2(args: [String], expected: String) throws {
        let r = try ChildProcess.run(relay, args)
        #expect(r.status == 2, "\(args): \(r.status) \(r.stderr)")
        let line = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!line.isEmpty && !line.contains("\n"), "\(args): \(r.stderr)")
        #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
    }

    /// A receiver the kernel will not let us send to is a start-up error, not a warning.
    @Test func unreachableReceiverExits1() throws {
        let r = try ChildProcess.run(relay, ["rtp", "--listen", "127.0.0.1:0", "--to", "255.255.255.255:6000", "--engine", "epoll"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("--to 255.255.255.255:6000") && r.stderr.contains("EACCES"), "\(r.stderr)")
    }

    @Test func portInUseExits1() throws {
        let busy = try Socket.makeDatagramSocket(.ipv4Loopback(port: 0))
        defer { close(busy) }
        let port = try Socket.localAddress(of: busy).port
        // The RTP port busy, or the RTCP port (listen port + 1) busy: both are "in use".
        for listenPort in [port, port - 1] where listenPort > 0 {
            let r = try ChildProcess.run(relay, ["rtp", "--listen", "127.0.0.1:\(listenPort)", "--to", "127.0.0.1:6000", "--engine", "epoll"])
            #expect(r.status == 1, "\(r.stderr)")
            #expect(r.stderr.contains("Address already in use"), "\(r.stderr)")
            #expect(r.stderr.contains("cannot listen on 127.0.0.1:\(listenPort)"), "\(r.stderr)")
        }
    }

    @Test(arguments: engines)
    func bannerStatsLineAndCleanStop(_ engine: EngineChoice) throws {
        let receiver = try Socket.makeDatagramSocket(.ipv4Loopback(port: 0))
        defer { close(receiver) }
        let to = try Socket.localAddress(of: receiver)
        let child = try ChildProcess(relay, ["rtp", "--listen", "127.0.0.1:0", "--to", "\(to)", "--engine", engine.rawValue,
                                             "--stats-interval", "200ms"])
        let banner = child.readStderr(until: "max 4096 destinations")
        #expect(banner.contains("rtp relay listening on 127.0.0.1:"), "\(banner)")
        #expect(banner.contains("1 destination(s)"))
        #expect(banner.contains("engine \(engine == .uring ? "io_uring" : "epoll")"))
        let stats = child.readStderr(until: "destinations: sent")
        #expect(stats.contains("rtp stats: in 0 packets"), "\(stats)")
        child.signal(SIGTERM)
        let end = child.finish()
        #expect(end.status == 0, "\(end.stderr)")
        #expect(end.stderr.contains("stopped: 0 RTP packets in"), "\(end.stderr)")
    }
}
