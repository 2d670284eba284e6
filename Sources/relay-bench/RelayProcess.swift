import Glibc
import UringRelay

/// The real `uring-relay MODE` binary as a child process: spawned (pinned to a CPU when asked),
/// ready once a TCP connect to its listener succeeds, stopped with SIGTERM (SIGKILL after 15 s)
/// and always reaped. Its stdout/stderr go to a temporary file, read back for error reports.
final class RelayProcess {
    let pid: pid_t
    let port: UInt16
    let engine: String
    private let logPath: String
    private var reaped = false
    /// Attached, not started: stop() and deinit leave it running.
    let external: Bool

    private init(pid: pid_t, port: UInt16, engine: String, logPath: String, external: Bool = false) {
        self.external = external
        self.pid = pid
        self.port = port
        self.engine = engine
        self.logPath = logPath
    }

    deinit {
        if !reaped { _ = stop() }
    }

    /// Spawns `path MODE --listen 127.0.0.1:PORT --engine E ARGUMENTS...` on a free PORT and waits
    /// (bounded retries of connect, 10 s at most) until it accepts connections. Every mode takes
    /// --listen and --engine; the rest (upstream, threads, pinning, mode flags) is the caller's.
    /// `ready`, if given, replaces the connect test (a mode without a TCP listener, e.g. rtp).
    static func start(path: String, mode: String, engine: String, arguments: [String], cpu: Int?,
                      ready: ((RelayProcess) -> Bool)? = nil) throws(RelayLaunchError) -> RelayProcess {
        let port: UInt16
        do { port = try LoopbackClient.freePort() } catch { throw RelayLaunchError(message: "\(error)") }
        guard let (logPath, logFD) = PinnedSpawn.temporaryFile("relay-bench-\(mode)-\(engine)") else {
            throw RelayLaunchError(message: "mkstemp: \(errnoName(errno))")
        }
        defer { close(logFD) }

        let args = [path, mode, "--listen", "127.0.0.1:\(port)", "--engine", engine] + arguments
        let pid: pid_t
        switch PinnedSpawn.spawn(path: path, arguments: args, outputFD: logFD, cpu: cpu) {
        case .success(let p): pid = p
        case .failure(let e):
            unlink(logPath)
            throw RelayLaunchError(message: "posix_spawn \(path): \(errnoName(e.errno))")
        }
        let relay = RelayProcess(pid: pid, port: port, engine: engine, logPath: logPath)

        let deadline = MonotonicClock.nowNs() + 10_000_000_000
        while true {
            var status: Int32 = 0
            if waitpid(relay.pid, &status, WNOHANG) == relay.pid {
                relay.reaped = true
                let line = relay.lastLogLine() ?? "exited with status \(status >> 8) and no output"
                unlink(logPath)
                throw RelayLaunchError(message: line)
            }
            if let ready {
                if ready(relay) { return relay }
            } else if let fd = try? LoopbackClient.connect(port: port) {
                close(fd)
                return relay
            }
            if MonotonicClock.nowNs() > deadline {
                _ = relay.stop()
                throw RelayLaunchError(message: "not accepting on 127.0.0.1:\(port) after 10 s")
            }
            nap(nanoseconds: 5_000_000)  // retry back-off between connect attempts
        }
    }

    /// An external relay, checked to be alive and accepting on its port.
    static func attach(_ x: ExternalRelay) throws(RelayLaunchError) -> RelayProcess {
        guard kill(x.pid, 0) == 0 else { throw RelayLaunchError(message: "\(x.name): no process \(x.pid) (\(errnoName(errno)))") }
        do { close(try LoopbackClient.connect(port: x.port)) } catch {
            throw RelayLaunchError(message: "\(x.name): \(error)")
        }
        let relay = RelayProcess(pid: x.pid, port: x.port, engine: x.name, logPath: "", external: true)
        relay.reaped = true
        return relay
    }

    /// SIGTERM, then reap; SIGKILL if it has not exited within 15 s. Returns a one-line outcome
    /// ("exit 0", "killed after 15 s", ...).
    @discardableResult
    func stop() -> String {
        guard !reaped else { return external ? "exit 0" : "already reaped" }
        kill(pid, SIGTERM)
        let deadline = MonotonicClock.nowNs() + 15_000_000_000
        var status: Int32 = 0
        var outcome = ""
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { outcome = "waitpid: \(errnoName(errno))"; break }
            if MonotonicClock.nowNs() > deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                outcome = "did not exit within 15 s of SIGTERM; killed"
                break
            }
            nap(nanoseconds: 2_000_000)
        }
        reaped = true
        if outcome.isEmpty {
            outcome = status & 0x7F == 0 ? "exit \((status >> 8) & 0xFF)" : "signal \(status & 0x7F)"
        }
        unlink(logPath)
        return outcome
    }

    /// The last non-empty line the relay printed.
    func lastLogLine() -> String? {
        ProcFile.read(logPath)?.split(separator: "\n").last(where: { !$0.allSatisfy(\.isWhitespace) }).map(String.init)
    }

    private static func nap(nanoseconds: Int) {
        var ts = timespec(tv_sec: nanoseconds / 1_000_000_000, tv_nsec: nanoseconds % 1_000_000_000)
        var rest = timespec()
        while nanosleep(&ts, &rest) != 0 && errno == EINTR { ts = rest }
    }

    private func nap(nanoseconds: Int) { Self.nap(nanoseconds: nanoseconds) }
}
