import Glibc
import Testing
@testable import relay_bench

/// relay-bench --syscalls: perf stat attached to a process counts the system calls it makes
/// between start and stop. Skipped where perf cannot count (not installed, not root).
@Suite(.serialized) struct BenchSyscallTests {
    /// perf missing (or not root) is a skip locally and a failure where peers are required.
    static var canCount: Bool {
        if SyscallCounter.perfPath() != nil && geteuid() == 0 { return true }
        if TestEnvironment.requirePeers {
            Issue.record("perf cannot count here (installed: \(SyscallCounter.perfPath() != nil), root: \(geteuid() == 0)) but URING_RELAY_REQUIRE_PEERS=1")
        }
        return false
    }

    @Test func countsTheSyscallsOfTheTargetProcess() throws {
        guard Self.canCount else { return }
        let counter = try SyscallCounter.start(target: getpid(), cpu: nil)
        // getppid is never answered from a cache in user space: each call is one syscall.
        for _ in 0..<5000 { _ = getppid() }
        let count = counter.stop()
        #expect(count != nil)
        #expect((count ?? 0) >= 5000)
    }

    /// A relay that forks per connection (socat, Postfix) is charged for its children's calls.
    @Test func countsChildrenForkedAfterTheStart() throws {
        guard Self.canCount, access("/usr/bin/python3", X_OK) == 0 else { return }
        let counter = try SyscallCounter.start(target: getpid(), cpu: nil)
        let devNull = open("/dev/null", O_WRONLY)
        defer { close(devNull) }
        let child = PinnedSpawn.spawn(path: "/usr/bin/python3",
                                      arguments: ["python3", "-c", "import os\nfor _ in range(20000): os.getppid()"],
                                      outputFD: devNull, cpu: nil)
        guard case .success(let pid) = child else { Issue.record("spawn: \(child)"); return }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        #expect(status == 0)
        let count = counter.stop()
        #expect((count ?? 0) >= 20000)
    }

    @Test func refusesAMissingProcess() {
        guard Self.canCount else { return }
        // A pid far above pid_max's default: perf cannot attach and says so.
        #expect(throws: BenchFailure.self) { _ = try SyscallCounter.start(target: 99_999_999, cpu: nil) }
    }

    @Test func metricsPerMessageAndPerMiB() {
        let m = SyscallCounting.metrics(3000, messages: 1000, unit: "message", bytes: 2 * 1_048_576)
        #expect(m.map(\.key) == ["relay_syscalls_per_message", "relay_syscalls_per_mib"])
        #expect(m.map(\.value) == [3, 1500])
        #expect(SyscallCounting.metrics(nil, messages: 1000, unit: "message", bytes: 1).isEmpty)
    }
}
