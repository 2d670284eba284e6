import Glibc
import UringRelay

/// Counts another process's system calls with `perf stat -e raw_syscalls:sys_enter -p PIDS`
/// (every thread of the process and of its descendants; needs root or perf_event_paranoid ≤ 1
/// and tracefs).
///
/// perf starts with its counter disabled (`-D -1`) and takes `enable` / `disable` on a control
/// pipe, answering each with "ack" on a second pipe: the count covers exactly the span between
/// `start` returning and `stop` being called, with no guess at how long perf takes to attach.
/// perf runs on the load CPU, so it does not compete with the relay for its core. Work the
/// kernel does for io_uring (in the ring or in io-wq threads) is not a system call and is not
/// counted: only io_uring_enter is.
final class SyscallCounter {
    private let pid: pid_t
    private let control: Int32
    private let ack: Int32
    private let outputPath: String
    private let logPath: String
    private var reaped = false

    private init(pid: pid_t, control: Int32, ack: Int32, outputPath: String, logPath: String) {
        self.pid = pid
        self.control = control
        self.ack = ack
        self.outputPath = outputPath
        self.logPath = logPath
    }

    deinit {
        if !reaped {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        close(control)
        close(ack)
        unlink(outputPath)
        unlink(logPath)
    }

    /// perf's path, or nil when it is not installed.
    static func perfPath() -> String? {
        ["/usr/bin/perf", "/usr/local/bin/perf", "/usr/sbin/perf"].first { access($0, X_OK) == 0 }
    }

    /// Attaches perf to `target` and enables counting; throws with perf's own message when it
    /// cannot (not installed, not permitted, no tracepoint).
    static func start(target: pid_t, cpu: Int?) throws(BenchFailure) -> SyscallCounter {
        guard let perf = perfPath() else { throw BenchFailure(message: "perf is not installed (apt-get install linux-perf)") }
        guard let (outputPath, outputFD) = PinnedSpawn.temporaryFile("relay-bench-perf-out"),
              let (logPath, logFD) = PinnedSpawn.temporaryFile("relay-bench-perf-log") else {
            throw BenchFailure(message: "mkstemp: \(errnoName(errno))")
        }
        close(outputFD)
        defer { close(logFD) }
        var controlPipe: [Int32] = [0, 0], ackPipe: [Int32] = [0, 0]
        // pipe2 is not visible from Swift's Glibc; relay-bench spawns from one thread at a time,
        // so setting CLOEXEC right after pipe() leaves no window for another child to inherit them.
        guard pipe(&controlPipe) == 0 else { throw BenchFailure(message: "pipe: \(errnoName(errno))") }
        guard pipe(&ackPipe) == 0 else {
            close(controlPipe[0]); close(controlPipe[1])
            throw BenchFailure(message: "pipe: \(errnoName(errno))")
        }
        for fd in controlPipe + ackPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // The whole tree as it is now (nginx works in its master's child); processes forked
        // later (socat's per-connection children, Postfix's smtpd) inherit the counter, and
        // their counts are summed in. In perf: fd 3 reads commands, fd 4 writes acks.
        let tree = [target] + ProcessUsage.descendants(of: target)
        let args = [perf, "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-p", tree.map(String.init).joined(separator: ","), "-D", "-1",
                    "--control", "fd:3,4", "-o", outputPath]
        let spawned = PinnedSpawn.spawn(path: perf, arguments: args, outputFD: logFD,
                                        passFDs: [(controlPipe[0], 3), (ackPipe[1], 4)], cpu: cpu)
        close(controlPipe[0])
        close(ackPipe[1])
        let pid: pid_t
        switch spawned {
        case .success(let p): pid = p
        case .failure(let e):
            close(controlPipe[1]); close(ackPipe[0])
            throw BenchFailure(message: "\(e)")
        }
        let counter = SyscallCounter(pid: pid, control: controlPipe[1], ack: ackPipe[0], outputPath: outputPath, logPath: logPath)
        if !counter.command("enable") {
            let why = counter.perfLog() ?? "no output"
            throw BenchFailure(message: "perf stat did not start counting: \(why)")
        }
        return counter
    }

    /// Disables counting, stops perf and returns the count; nil when perf reported none.
    func stop() -> UInt64? {
        let disabled = command("disable")
        kill(pid, SIGINT)  // perf stat prints its counts on SIGINT
        let exited = Self.reap(pid, withinNs: 5_000_000_000)
        reaped = true
        guard disabled, exited, let text = ProcFile.read(outputPath) else { return nil }
        // CSV: "count,unit,event,run time,percentage,..."; "<not counted>" when the target never ran.
        for line in text.split(separator: "\n") where line.contains("raw_syscalls:sys_enter") {
            return UInt64(line.split(separator: ",", omittingEmptySubsequences: false).first ?? "")
        }
        return nil
    }

    /// Waits for `pid` to exit; SIGKILL (and false) if it has not within `withinNs`.
    private static func reap(_ pid: pid_t, withinNs: UInt64) -> Bool {
        let deadline = MonotonicClock.nowNs() + withinNs
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno != EINTR) { return r == pid }
            if MonotonicClock.nowNs() > deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return false
            }
            var ts = timespec(tv_sec: 0, tv_nsec: 2_000_000)  // poll interval for the child's exit
            nanosleep(&ts, nil)
        }
    }

    /// Sends a control command and waits (5 s at most) for perf's "ack"; false if perf exited
    /// or did not answer.
    private func command(_ word: String) -> Bool {
        let line = Array((word + "\n").utf8)
        guard line.withUnsafeBytes({ Glibc.write(control, $0.baseAddress, $0.count) }) == line.count else { return false }
        var reply: [UInt8] = []
        let deadline = MonotonicClock.nowNs() + 5_000_000_000
        while !reply.contains(UInt8(ascii: "\n")) {
            let now = MonotonicClock.nowNs()
            if now >= deadline { return false }
            var p = pollfd(fd: ack, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32((deadline - now) / 1_000_000) + 1)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { return false }
            var buf = [UInt8](repeating: 0, count: 64)
            let n = buf.withUnsafeMutableBytes { read(ack, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }  // perf exited: its log says why
            reply += buf[0..<n]
        }
        return String(decoding: reply, as: UTF8.self).hasPrefix("ack")
    }

    /// perf's last line of stderr (its error message when it failed).
    private func perfLog() -> String? {
        ProcFile.read(logPath)?.split(separator: "\n").last { !$0.allSatisfy(\.isWhitespace) && !$0.hasPrefix("Events") }.map(String.init)
    }
}
