import Foundation
import Glibc
import UringRelay

/// A peer program (aiosmtpd upstream, smtp-sink, swaks, ...) running as a child of the test
/// process. stdout is read on its own thread into lines a test can wait for (a READY line,
/// an event), stderr on another so a chatty child never blocks on a full pipe, and `stop()`
/// (also run by deinit) signals, reaps and joins everything: no test leaves a process, a
/// thread or an fd behind, even when it fails half-way.
final class PeerProcess {
    private struct State {
        var stdout: [UInt8] = []
        var lines: [String] = []
        /// When each line arrived (monotonic seconds), for peers whose timing is the result
        /// (an RTSP reader's time to its first frame, or whether it still receives).
        var lineTimes: [Double] = []
        var lineStart = 0
        var stdoutClosed = false
        var stderr: [UInt8] = []
        var exit: (status: Int32, signaled: Bool, at: Double)?

        mutating func appendStdout(_ bytes: ArraySlice<UInt8>) {
            stdout += bytes
            let arrived = now()
            var i = stdout.count - bytes.count
            while i < stdout.count {
                // CR ends a line too: smtp-sink -c rewrites its counter line with "\r".
                if stdout[i] == 0x0A || stdout[i] == 0x0D {
                    if i > lineStart {
                        lines.append(String(decoding: stdout[lineStart..<i], as: UTF8.self))
                        lineTimes.append(arrived)
                    }
                    lineStart = i + 1
                }
                i += 1
            }
        }
    }

    let name: String
    let pid: Int32
    let startedAt = now()
    private let process = Process()
    private let state = Monitor(State())
    private let outPipe = Pipe()
    private let errPipe = Pipe()
    private let inPipe: Pipe?
    private var readers: [WorkerThread] = []
    private var stopped = false

    /// Starts `path`. With `keepStdinOpen` the child's stdin is a pipe held open until
    /// `stop()`: a peer that exits at EOF on stdin (smtp_upstream.py --watch-stdin) then
    /// also goes away if the test process dies without stopping it. Otherwise stdin is
    /// /dev/null, so nothing ever waits for a prompt.
    init(_ path: String, _ arguments: [String], environment: [String: String] = [:],
         keepStdinOpen: Bool = false) throws {
        name = URL(fileURLWithPath: path).lastPathComponent
        inPipe = keepStdinOpen ? Pipe() : nil
        // Our ends must not leak into other children (a second peer holding this one's
        // stdin open would defeat --watch-stdin). dup2 onto 0/1/2 in the child clears the flag.
        for fd in [outPipe.fileHandleForReading, outPipe.fileHandleForWriting,
                   errPipe.fileHandleForReading, errPipe.fileHandleForWriting].map(\.fileDescriptor)
            + (inPipe.map { [$0.fileHandleForReading.fileDescriptor, $0.fileHandleForWriting.fileDescriptor] } ?? []) {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = inPipe ?? FileHandle.nullDevice
        // Foundation reaps the child and then calls this: the exit is an event to wait on.
        process.terminationHandler = { [state] p in
            let status = p.terminationStatus
            let signaled = p.terminationReason == .uncaughtSignal
            state.update { $0.exit = (status, signaled, now()) }
        }
        let process = self.process
        try Self.withSignalsUnblocked { try process.run() }
        pid = process.processIdentifier
        let outFd = outPipe.fileHandleForReading.fileDescriptor
        let errFd = errPipe.fileHandleForReading.fileDescriptor
        readers.append(spawn("peer-stdout") { [state] in
            PeerProcess.drain(outFd) { bytes in state.update { $0.appendStdout(bytes) } }
            state.update { $0.stdoutClosed = true }
        })
        readers.append(spawn("peer-stderr") { [state] in
            PeerProcess.drain(errFd) { bytes in state.update { $0.stderr += bytes } }
        })
    }

    deinit { stop() }

    // MARK: Output

    var stdoutLines: [String] { state.read { $0.lines } }
    /// The stdout lines so far with the monotonic time (`now()`) each arrived at.
    var timedStdoutLines: [(line: String, at: Double)] { state.read { Array(zip($0.lines, $0.lineTimes)) } }
    var stdout: [UInt8] { state.read { $0.stdout } }
    var stderrText: String { state.read { String(decoding: $0.stderr, as: UTF8.self) } }
    var isRunning: Bool { state.read { $0.exit == nil } }
    var exitStatus: (status: Int32, signaled: Bool)? { state.read { $0.exit.map { ($0.status, $0.signaled) } } }

    /// Waits until `predicate` holds for the stdout lines so far, stdout closes (the peer
    /// exited) or `timeout` passes; returns whether it holds.
    @discardableResult
    func waitForLines(timeout: Double, until predicate: ([String]) -> Bool) -> Bool {
        state.wait(timeout) { predicate($0.lines) || $0.stdoutClosed }
        return state.read { predicate($0.lines) }
    }

    /// The first stdout line that satisfies `predicate`, waiting for it up to `timeout`.
    func waitForLine(timeout: Double, where predicate: (String) -> Bool) -> String? {
        waitForLines(timeout: timeout) { $0.contains(where: predicate) }
        return state.read { $0.lines.first(where: predicate) }
    }

    /// Waits for the child to exit (true) or `timeout` to pass (false).
    @discardableResult
    func waitForExit(timeout: Double) -> Bool {
        state.wait(timeout) { $0.exit != nil }
    }

    // MARK: Stopping

    /// Ends the child (signal `sig`, then SIGKILL after `grace` seconds), waits until it is
    /// reaped, joins the reader threads and closes our pipe ends. Idempotent; returns how it
    /// ended (status, or signal number when `signaled`).
    @discardableResult
    func stop(_ sig: Int32 = SIGTERM, grace: Double = 5) -> (status: Int32, signaled: Bool) {
        if !stopped {
            stopped = true
            // The pid is still ours while exit is nil: Foundation has not reaped it yet
            // (reaping and setting exit happen together, just before the handler runs).
            if isRunning {
                kill(pid, sig)
                if !waitForExit(timeout: grace) {
                    kill(pid, SIGKILL)
                    waitForExit(timeout: 30)
                }
            }
            try? inPipe?.fileHandleForWriting.close()
            for r in readers { r.join() }
            readers = []
            try? outPipe.fileHandleForReading.close()
            try? errPipe.fileHandleForReading.close()
        }
        return exitStatus ?? (-1, false)
    }

    /// Runs `path` to completion (killed after `timeout` seconds) and returns what it left.
    static func run(_ path: String, _ arguments: [String], environment: [String: String] = [:],
                    timeout: Double = 30) throws -> PeerRun {
        let child = try PeerProcess(path, arguments, environment: environment)
        let exited = child.waitForExit(timeout: timeout)
        let (status, signaled) = child.stop(SIGTERM, grace: 2)
        let endedAt = child.state.read { $0.exit?.at } ?? now()
        return PeerRun(status: status, signaled: signaled, timedOut: !exited, stdout: child.stdout,
                       stderr: child.stderrText, elapsed: endedAt - child.startedAt)
    }

    /// Runs `body` (which spawns a child) with no signal blocked on this thread.
    ///
    /// Foundation's Process spawns the child with the calling thread's signal mask, and
    /// tests run on Dispatch worker threads, which block nearly every signal (SIGTERM,
    /// SIGINT, SIGHUP, ...). A child that installs no handler, like smtp-sink, would then
    /// never see the SIGTERM that `stop()` sends and would have to be killed.
    private static func withSignalsUnblocked<R>(_ body: () throws -> R) rethrows -> R {
        var none = sigset_t()
        var saved = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        return try body()
    }

    /// `bytes` split at LF or CR, empty lines dropped.
    static func lines(of bytes: [UInt8]) -> [String] {
        bytes.split(whereSeparator: { $0 == 0x0A || $0 == 0x0D }).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Reads `fd` to EOF (or an error other than EINTR), handing each chunk to `sink`.
    private static func drain(_ fd: Int32, _ sink: (ArraySlice<UInt8>) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n > 0 { sink(buffer[0..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            return
        }
    }
}
