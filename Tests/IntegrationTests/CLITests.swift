import Foundation
import Glibc
import Testing
@testable import UringRelay

/// The uring-relay binary as an operator meets it: exit codes, one-line errors, help, the
/// start-up banner, engine selection and fallback, and signals.
@Suite struct CLITests {
    let relay = TestEnvironment.relayBinary

    private func oneLine(_ s: String) -> Bool {
        let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
        return !t.isEmpty && !t.contains("\n")
    }

    @Test func noArgumentsIsUsageError() throws {
        let r = try ChildProcess.run(relay, [])
        #expect(r.status == 2)
        #expect(r.stderr.contains("usage: uring-relay MODE"))
    }

    @Test func helpForTopLevelAndTCP() throws {
        let top = try ChildProcess.run(relay, ["--help"])
        #expect(top.status == 0)
        #expect(top.stdout.contains("tcp"))
        let tcp = try ChildProcess.run(relay, ["tcp", "--help"])
        #expect(tcp.status == 0)
        for flag in ["--listen", "--upstream", "--engine", "--threads", "--max-conns", "--zerocopy", "--drain-timeout"] {
            #expect(tcp.stdout.contains(flag), "help lacks \(flag)")
        }
    }

    @Test(arguments: [
        (["tcp", "--bogus"], "unknown flag --bogus"),
        (["tcp", "--listen", "127.0.0.1:9000"], "--upstream is required"),
        (["tcp", "--listen", "1.2.3:80", "--upstream", "127.0.0.1:1"], "--listen"),
        (["tcp", "--listen", "::1:80", "--upstream", "127.0.0.1:1"], "brackets"),
        (["tcp", "--listen", "127.0.0.1:70000", "--upstream", "127.0.0.1:1"], "port"),
        (["tcp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--engine", "kqueue"], "--engine"),
        (["tcp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--threads", "0"], "--threads"),
        (["tcp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--buffers", "1000"], "power of two"),
        (["smtpx"], "unknown mode"),
        (["tcp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--idle-timeout", "300"], "unit"),
        (["tcp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:0"], "--upstream needs a port"),
    ])
    func usageErrorsAreOneLineWithExitCode2(args: [String], expected: String) throws {
        let r = try ChildProcess.run(relay, args)
        #expect(r.status == 2, "\(args): status \(r.status), stderr \(r.stderr)")
        #expect(oneLine(r.stderr), "\(args): \(r.stderr)")
        #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
    }

    @Test func portInUseIsRuntimeErrorExit1() throws {
        let busy = try Socket.makeListener(.ipv4Loopback(port: 0), reusePort: false)
        defer { close(busy) }
        let port = try Socket.localAddress(of: busy).port
        let r = try ChildProcess.run(relay, ["tcp", "--listen", "127.0.0.1:\(port)", "--upstream", "127.0.0.1:1", "--engine", "epoll"])
        #expect(r.status == 1)
        #expect(oneLine(r.stderr), "\(r.stderr)")
        #expect(r.stderr.contains("Address already in use"))
    }

    @Test(arguments: ["EPERM", "ENOSYS"])
    func forcedUringFailureNamesTheCause(errnoName: String) throws {
        let env = [URingEngine.failSetupEnvironmentVariable: errnoName]
        let r = try ChildProcess.run(relay, ["tcp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--engine", "uring"],
                                     environment: env)
        #expect(r.status == 1)
        #expect(oneLine(r.stderr), "\(r.stderr)")
        #expect(r.stderr.contains("io_uring_setup: \(errnoName)"))
        if errnoName == "EPERM" { #expect(r.stderr.contains("seccomp") || r.stderr.contains("io_uring_disabled")) }
    }

    @Test func autoFallsBackToEpollWithOneWarning() throws {
        let env = [URingEngine.failSetupEnvironmentVariable: "EPERM"]
        let child = try ChildProcess(relay, ["tcp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--engine", "auto", "--threads", "1"],
                                     environment: env)
        let started = child.readStderr(until: "listening on")
        #expect(started.contains("warning: io_uring unavailable, using epoll: io_uring_setup: EPERM"))
        #expect(started.contains("engine epoll"))
        child.signal(SIGTERM)
        let end = child.finish()
        #expect(end.status == 0, "\(end.stderr)")
    }

    @Test func bannerNamesEngineThreadsPoolsAndFeatures() throws {
        guard TestEnvironment.canRun(.uring) else { return }
        let child = try ChildProcess(relay, ["tcp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--engine", "uring",
                                             "--threads", "2", "--buffers", "1024", "--buffer-size", "8K"])
        let banner = child.readStderr(until: "max-conns")
        #expect(banner.contains("engine io_uring"))
        #expect(banner.contains("single_issuer") || banner.contains("coop_taskrun"))
        #expect(banner.contains("multishot_recv"))
        #expect(banner.contains("2 worker thread(s)"))
        #expect(banner.contains("1024 × 8192 B"))
        child.signal(SIGINT)
        let end = child.finish()
        #expect(end.status == 0)
        #expect(end.stderr.contains("stopped:"))
    }
    /// SO_REUSEPORT would let a second relay join the first one's port and take half its
    /// clients; it must fail like any other "port in use".
    @Test func secondRelayOnSamePortFails() throws {
        let first = try ChildProcess(relay, ["tcp", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--engine", "epoll", "--threads", "1"])
        let banner = first.readStderr(until: "max-conns")
        let port = try #require(banner.split(separator: " ").first { $0.hasPrefix("127.0.0.1:") && !$0.hasSuffix(":1") }?
            .split(separator: ":").last.flatMap { Int($0) })
        let second = try ChildProcess.run(relay, ["tcp", "--listen", "127.0.0.1:\(port)", "--upstream", "127.0.0.1:1", "--engine", "epoll"])
        #expect(second.status == 1)
        #expect(second.stderr.contains("Address already in use"), "\(second.stderr)")
        first.signal(SIGTERM)
        #expect(first.finish().status == 0)
    }
}
