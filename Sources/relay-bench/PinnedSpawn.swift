import Glibc
import UringRelay

/// posix_spawn of a helper program (the relay, perf) confined to one CPU: the child inherits the
/// spawning thread's CPU mask, so the spawn happens on a short-lived thread pinned to `cpu`.
enum PinnedSpawn {
    /// Spawns `arguments[0]` at `path` with stdin from /dev/null, stdout and stderr into
    /// `outputFD`, each `(from, to)` of `passFDs` dup2'ed into the child (dup2 drops CLOEXEC, so
    /// exactly these reach it), and PATH as the only environment variable. The pid, or the
    /// posix_spawn error.
    static func spawn(path: String, arguments: [String], outputFD: Int32, passFDs: [(from: Int32, to: Int32)] = [],
                      cpu: Int?) -> Result<pid_t, SystemError> {
        let outcome = SpawnOutcome()
        let spawner = WorkerThread(name: "bench-spawn") {
            CPUPinning.pinCurrentThread(cpu)
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, outputFD, 1)
            posix_spawn_file_actions_adddup2(&actions, outputFD, 2)
            for (from, to) in passFDs { posix_spawn_file_actions_adddup2(&actions, from, to) }
            // A child inherits the spawning thread's signal mask and ignored signals; a host that
            // blocks SIGINT/SIGTERM (a test runner, a shell script) would make the child deaf to
            // the signal that stops it. So: nothing blocked, default handlers.
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            var none = sigset_t(), defaults = sigset_t()
            sigemptyset(&none)
            sigemptyset(&defaults)
            for signal in [SIGINT, SIGTERM, SIGPIPE, SIGHUP] { sigaddset(&defaults, signal) }
            posix_spawnattr_setsigmask(&attributes, &none)
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            var envp: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/bin:/bin:/usr/sbin:/sbin"), nil]
            var pid: pid_t = 0
            outcome.rc = posix_spawn(&pid, path, &actions, &attributes, &argv, &envp)
            outcome.pid = pid
            posix_spawnattr_destroy(&attributes)
            posix_spawn_file_actions_destroy(&actions)
            for p in argv + envp { free(p) }
        }
        spawner.join()
        if outcome.rc != 0 { return .failure(SystemError(operation: "posix_spawn \(path)", errno: outcome.rc)) }
        return .success(outcome.pid)
    }

    /// A temporary file for a child's output: its path and an fd open for writing (CLOEXEC).
    static func temporaryFile(_ prefix: String) -> (path: String, fd: Int32)? {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd < 0 { return nil }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return (String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), fd)
    }
}
