#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
@testable import UringRelay

// Helpers for the integration tests: blocking sockets on plain pthreads, small upstream
// servers, a relay harness that always stops, and an fd-leak check.

// MARK: - Errors and time

/// A failed system call in a test peer or client.
struct PeerError: Error, CustomStringConvertible {
    var operation: String
    var code: Int32
    var description: String { "\(operation): \(String(cString: strerror(code))) (errno \(code))" }
    var isTimeout: Bool { code == EAGAIN || code == EWOULDBLOCK }
    /// The peer went away abortively (RST) or the pipe is gone.
    var isResetLike: Bool { code == ECONNRESET || code == EPIPE || code == ECONNABORTED }

    static func last(_ operation: String) -> PeerError { PeerError(operation: operation, code: errno) }
}

/// Monotonic seconds.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Polls `condition` every 2 ms until it holds or `seconds` pass. Only for states that have
/// no event to wait on (relay counters, the fd table).
@discardableResult
func pollUntil(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = now() + seconds
    while true {
        if condition() { return true }
        if now() >= deadline { return false }
        usleep(2_000)
    }
}

// MARK: - Monitor (mutex + condition variable)

/// A value guarded by a pthread mutex, with waiting for a predicate on it. Every update
/// wakes all waiters.
final class Monitor<T>: @unchecked Sendable {
    // @unchecked: `value` is only touched with `mutex` held; mutex and cond live at stable
    // addresses (allocated), as pthread requires.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var value: T

    init(_ value: T) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    @discardableResult
    func update<R>(_ body: (inout T) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(cond)
            pthread_mutex_unlock(mutex)
        }
        return try body(&value)
    }

    func read<R>(_ body: (T) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(value)
    }

    var current: T { read { $0 } }

    /// Waits until `predicate` holds (true) or `seconds` pass (false).
    @discardableResult
    func wait(_ seconds: Double = 10, until predicate: (T) -> Bool) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let ns = Int(seconds * 1e9) + deadline.tv_nsec
        deadline.tv_sec += ns / 1_000_000_000
        deadline.tv_nsec = ns % 1_000_000_000
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !predicate(value) {
            if pthread_cond_timedwait(cond, mutex, &deadline) == ETIMEDOUT { return predicate(value) }
        }
        return true
    }
}

/// Starts `body` on a new pthread; join it with `.join()`.
func spawn(_ name: String = "itest", _ body: @escaping @Sendable () -> Void) -> WorkerThread {
    WorkerThread(name: name, body)
}

// MARK: - Blocking sockets

enum Blocking {
    static func setBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
    }

    static func setTimeouts(_ fd: Int32, seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// A blocking listener on `address` (port 0: any free port) and its real address.
    static func listen(_ address: SocketAddress) throws -> (fd: Int32, address: SocketAddress) {
        let fd = try Socket.makeListener(address, reusePort: false, backlog: 4096)
        setBlocking(fd)
        do {
            return (fd, try Socket.localAddress(of: fd))
        } catch {
            close(fd)
            throw error
        }
    }

    /// A connected blocking socket (TCP_NODELAY, CLOEXEC) with read/write timeouts so a
    /// broken relay fails a test instead of hanging it. `bufferSize` sets SO_SNDBUF and
    /// SO_RCVBUF before connecting.
    static func connect(_ address: SocketAddress, bufferSize: Int32? = nil, timeout: Double = 10) throws -> Int32 {
        let fd = try Socket.makeStreamSocket(family: address.family)
        if let bufferSize { try? Socket.setBufferSizes(fd, send: bufferSize, recv: bufferSize) }
        setBlocking(fd)
        setTimeouts(fd, seconds: timeout)
        var rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if rc != 0 && errno == EINTR {
            // A signal (e.g. SIGCHLD from a peer process) interrupted the wait, not the
            // connect: it goes on in the kernel. Wait for it to finish and read its outcome.
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var polled: Int32
            repeat { polled = poll(&p, 1, Int32(timeout * 1000)) } while polled < 0 && errno == EINTR
            var err: Int32 = polled == 1 ? 0 : ETIMEDOUT
            var len = socklen_t(MemoryLayout<Int32>.size)
            if polled == 1 { getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) }
            errno = err
            rc = err == 0 ? 0 : -1
        }
        if rc != 0 {
            let e = PeerError.last("connect \(address)")
            close(fd)
            throw e
        }
        return fd
    }

    /// Closes with SO_LINGER 0: the peer gets a RST.
    static func reset(_ fd: Int32) {
        try? Socket.setLingerZero(fd)
        close(fd)
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = send(fd, bytes.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                throw PeerError.last("send")
            }
            done += n
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0) }
    }

    /// One read: bytes read, 0 at EOF; throws on error (ECONNRESET, timeout as EAGAIN).
    static func readSome(_ fd: Int32, _ into: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = recv(fd, into.baseAddress!, into.count, 0)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw PeerError.last("recv")
        }
    }

    /// Exactly `count` bytes; throws at EOF before that.
    static func readExactly(_ fd: Int32, _ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        try out.withUnsafeMutableBytes { raw in
            while done < count {
                let n = try readSome(fd, UnsafeMutableRawBufferPointer(rebasing: raw[done...]))
                if n == 0 { throw PeerError(operation: "recv: EOF after \(done) of \(count) bytes", code: 0) }
                done += n
            }
        }
        return out
    }

    /// Everything up to EOF (throws past `limit` bytes).
    static func readToEOF(_ fd: Int32, limit: Int = 64 << 20) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try readSome(fd, $0) }
            if n == 0 { return out }
            out += chunk[0..<n]
            if out.count > limit { throw PeerError(operation: "recv: more than \(limit) bytes", code: 0) }
        }
    }

    /// Reads and discards `count` bytes.
    static func drain(_ fd: Int32, _ count: Int) throws {
        var left = count
        var chunk = [UInt8](repeating: 0, count: 65536)
        while left > 0 {
            let n = try chunk.withUnsafeMutableBytes { try readSome(fd, UnsafeMutableRawBufferPointer(rebasing: $0[0..<min(left, $0.count)])) }
            if n == 0 { throw PeerError(operation: "recv: EOF with \(left) bytes still expected", code: 0) }
            left -= n
        }
    }

    enum Ending: Equatable, CustomStringConvertible {
        case eof, reset, timeout
        case error(Int32)
        var description: String {
            switch self {
            case .eof: "EOF"
            case .reset: "ECONNRESET"
            case .timeout: "no EOF/reset in time"
            case .error(let e): "error \(String(cString: strerror(e)))"
            }
        }
        /// The connection ended (orderly or abortive).
        var isClosed: Bool { self == .eof || self == .reset }
    }

    /// Reads (discarding data) until EOF or an error, for at most `seconds`.
    /// Returns how the stream ended and how many bytes were discarded.
    static func awaitEnding(_ fd: Int32, within seconds: Double) -> (ending: Ending, discarded: Int, elapsed: Double) {
        let start = now()
        var discarded = 0
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let left = start + seconds - now()
            if left <= 0 { return (.timeout, discarded, now() - start) }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, Int32(max(1, left * 1000)))
            if r < 0 && errno == EINTR { continue }
            if r == 0 { return (.timeout, discarded, now() - start) }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { discarded += n; continue }
            if n == 0 { return (.eof, discarded, now() - start) }
            if errno == EINTR || errno == EAGAIN { continue }
            let e = errno
            return (e == ECONNRESET ? .reset : .error(e), discarded, now() - start)
        }
    }

    /// Connects until the connection is refused (the listener is gone) or `seconds` pass.
    /// Connections that still succeed are closed at once.
    static func connectUntilRefused(_ address: SocketAddress, within seconds: Double) -> Bool {
        pollUntil(seconds) {
            do {
                let fd = try connect(address, timeout: 1)
                close(fd)
                return false
            } catch let e as PeerError {
                return e.code == ECONNREFUSED
            } catch {
                return false
            }
        }
    }

    /// SIOCINQ: bytes in fd's receive queue.
    static func inQueue(_ fd: Int32) -> Int {
        var v: Int32 = 0
        _ = ioctl(fd, UInt(0x541B), &v)
        return Int(v)
    }

    /// SIOCOUTQ: bytes in fd's send queue (unsent + unacknowledged).
    static func outQueue(_ fd: Int32) -> Int {
        var v: Int32 = 0
        _ = ioctl(fd, UInt(0x5411), &v)
        return Int(v)
    }

    /// SIOCOUTQNSD: bytes in fd's send queue not yet sent.
    static func unsentQueue(_ fd: Int32) -> Int {
        guard fd >= 0 else { return 0 }
        var v: Int32 = 0
        _ = ioctl(fd, UInt(0x894B), &v)
        return Int(v)
    }

    /// The fd in this process whose local address is `local` and peer is `peer` (a relay
    /// socket, found by the addresses its test peer sees).
    static func findSocket(local: SocketAddress, peer: SocketAddress) -> Int32? {
        for fd in listOpenFileDescriptors().keys.sorted() {
            guard let l = try? Socket.localAddress(of: fd), l == local,
                  let p = try? Socket.peerAddress(of: fd), p == peer else { continue }
            return fd
        }
        return nil
    }
}

// MARK: - Test data

/// SplitMix64: reproducible pseudo-random numbers (the seed is printed on failure).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// An endless byte stream whose byte at offset i is `pattern[i % period]` (random bytes,
/// period a prime-ish size unrelated to any buffer size), so any slice of the stream can be
/// produced and checked with one memcmp at its offset.
final class PatternStream: Sendable {
    let period: Int
    /// `period + maxChunk` bytes: the pattern followed by its own beginning, so every
    /// slice of up to `maxChunk` bytes is contiguous.
    private let bytes: UnsafeMutableRawBufferPointer.SendableBox
    let maxChunk: Int

    init(seed: UInt64, period: Int = (8 << 20) + 13, maxChunk: Int = 1 << 20) {
        self.period = period
        self.maxChunk = maxChunk
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: period + maxChunk, alignment: 8)
        var rng = SplitMix64(seed: seed)
        var i = 0
        while i + 8 <= period {
            raw.storeBytes(of: rng.next(), toByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < period { raw[i] = UInt8(truncatingIfNeeded: rng.next()); i += 1 }
        for j in 0..<maxChunk { raw[period + j] = raw[j % period] }
        bytes = .init(raw)
    }

    deinit { bytes.pointer.deallocate() }

    /// The stream's bytes [offset, offset + count), count ≤ maxChunk.
    func slice(at offset: Int, count: Int) -> UnsafeRawBufferPointer {
        precondition(count <= maxChunk)
        return UnsafeRawBufferPointer(rebasing: bytes.pointer[(offset % period)..<(offset % period + count)])
    }

    /// True if `data` equals the stream at `offset` (data.count ≤ maxChunk).
    func matches(_ data: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        data.count == 0 || memcmp(data.baseAddress!, slice(at: offset, count: data.count).baseAddress!, data.count) == 0
    }
}

extension UnsafeMutableRawBufferPointer {
    /// Immutable-after-init memory shared read-only between threads.
    struct SendableBox: @unchecked Sendable {
        // @unchecked: written only in PatternStream.init, read-only afterwards.
        let pointer: UnsafeMutableRawBufferPointer
        init(_ p: UnsafeMutableRawBufferPointer) { pointer = p }
    }
}

/// A distinct payload for connection `index`: a header naming it, then random bytes.
func payload(index: Int, length: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed &+ UInt64(index) &* 7919)
    var out = Array("conn \(index) seed \(seed):".utf8)
    while out.count < length { out.append(UInt8(truncatingIfNeeded: rng.next())) }
    return Array(out.prefix(max(length, 1)))
}

// MARK: - Upstream peers

/// One accepted connection of a `PeerServer`. The handler may close or reset it itself;
/// otherwise it is closed when the handler returns.
final class PeerConnection: Sendable {
    let index: Int
    private let fdBox: Mutex<Int32>

    init(fd: Int32, index: Int) {
        self.index = index
        fdBox = Mutex(fd)
    }

    /// The fd while open (-1 once closed). Use it only from the handler's thread.
    var fd: Int32 { fdBox.withLock { $0 } }

    /// Orderly close (FIN). Idempotent.
    func close() {
        fdBox.withLock { fd in
            if fd >= 0 { Glibc.close(fd); fd = -1 }
        }
    }

    /// Abortive close (RST). Idempotent.
    func reset() {
        fdBox.withLock { fd in
            if fd >= 0 { Blocking.reset(fd); fd = -1 }
        }
    }

    /// Unblocks a handler stuck in read/write (used when the server stops).
    func shutdownBoth() {
        fdBox.withLock { fd in
            if fd >= 0 { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// The peer's address of this connection (the relay's upstream socket).
    var remoteAddress: SocketAddress? { fdBox.withLock { fd in fd >= 0 ? try? Socket.peerAddress(of: fd) : nil } }
    var localAddress: SocketAddress? { fdBox.withLock { fd in fd >= 0 ? try? Socket.localAddress(of: fd) : nil } }
}

/// A blocking TCP server on its own thread, one thread per connection running `handler`.
/// `stop()` closes the listener, unblocks every handler (shutdown) and joins all threads.
final class PeerServer: Sendable {
    struct Stats: Sendable {
        var accepted = 0
        var finished = 0
    }

    let address: SocketAddress
    /// accepted / finished connection counts, for waiting on them.
    let stats = Monitor(Stats())
    private let listenFd: Int32
    private let handler: @Sendable (PeerConnection) -> Void
    private let state = Mutex<(stopping: Bool, connections: [Int: PeerConnection], threads: [WorkerThread], acceptThread: WorkerThread?)>((false, [:], [], nil))

    init(listen: SocketAddress = .ipv4Loopback(port: 0), handler: @escaping @Sendable (PeerConnection) -> Void) throws {
        (listenFd, address) = try Blocking.listen(listen)
        self.handler = handler
        let t = spawn("peer-accept") { [self] in acceptLoop() }
        state.withLock { $0.acceptThread = t }
    }

    private func acceptLoop() {
        var index = 0
        while true {
            let fd = accept(listenFd, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // EINVAL after shutdown(listener): stopping
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            try? Socket.setNoDelay(fd)
            Blocking.setTimeouts(fd, seconds: 20)
            let connection = PeerConnection(fd: fd, index: index)
            index += 1
            let started: Bool = state.withLock { s in
                if s.stopping { return false }
                s.connections[connection.index] = connection
                s.threads.append(spawn("peer-conn") { [self] in
                    handler(connection)
                    connection.close()
                    state.withLock { _ = $0.connections.removeValue(forKey: connection.index) }
                    stats.update { $0.finished += 1 }
                })
                return true
            }
            if !started { connection.close(); return }
            stats.update { $0.accepted += 1 }
        }
    }

    /// Idempotent; joins every thread this server started.
    func stop() {
        let (accept, open) = state.withLock { s -> (WorkerThread?, [PeerConnection]) in
            let t = s.acceptThread
            s.acceptThread = nil
            s.stopping = true
            return (t, Array(s.connections.values))
        }
        guard let accept else { return }
        _ = shutdown(listenFd, Int32(SHUT_RDWR))
        accept.join()
        close(listenFd)
        for c in open { c.shutdownBoth() }
        let threads = state.withLock { s -> [WorkerThread] in
            defer { s.threads = [] }
            return s.threads
        }
        for t in threads { t.join() }
    }

    // MARK: Ready-made handlers

    /// Echoes until EOF, then closes.
    static func echo(listen: SocketAddress = .ipv4Loopback(port: 0)) throws -> PeerServer {
        try PeerServer(listen: listen) { c in echoLoop(c.fd) }
    }

    /// Echoes everything read on fd until EOF or an error; forwards EOF with shutdown.
    static func echoLoop(_ fd: Int32) {
        var buf = [UInt8](repeating: 0, count: 256 << 10)
        while true {
            let n = buf.withUnsafeMutableBytes { (try? Blocking.readSome(fd, $0)) ?? -1 }
            if n <= 0 {
                if n == 0 { _ = shutdown(fd, Int32(SHUT_WR)) }
                return
            }
            do {
                try buf.withUnsafeBytes { try Blocking.writeAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            } catch {
                return
            }
        }
    }
}

/// A local port with nothing listening: a bound, non-listening socket holds it so no one
/// else takes it while the test runs. Connecting there is refused.
final class RefusingPort {
    let address: SocketAddress
    private let fd: Int32

    init(_ base: SocketAddress = .ipv4Loopback(port: 0)) throws {
        let fd = try Socket.makeStreamSocket(family: base.family)
        self.fd = fd
        let rc = base.withSockAddr { bind(fd, $0, $1) }
        if rc != 0 {
            let e = PeerError.last("bind")
            Glibc.close(fd)
            throw e
        }
        address = try Socket.localAddress(of: fd)
    }

    func close() { Glibc.close(fd) }
}

// MARK: - The relay under test

/// A relay in this process, on loopback, two worker threads. `stop()` is idempotent and
/// always joins the workers.
final class RelayUnderTest {
    let server: TCPRelayServer
    let address: SocketAddress
    private var stopped = false

    init(_ engine: EngineChoice, upstream: SocketAddress, listen: SocketAddress = .ipv4Loopback(port: 0),
         configure: (inout TCPRelayConfig) -> Void = { _ in }) throws {
        var config = TCPRelayConfig(listen: listen, upstream: upstream)
        config.engine = engine
        config.threads = 2
        config.buffersPerWorker = 1024
        config.connectTimeoutMs = 3_000
        config.drainTimeoutMs = 3_000
        configure(&config)
        server = TCPRelayServer(config: config)
        let info = try server.start()
        address = info.listenAddress
        if engine != .auto {
            #expect(info.engine.rawValue == engine.rawValue, "asked for \(engine), got \(info.engine)")
        }
    }

    var counters: RelayCounters.Snapshot { server.counters.snapshot() }

    /// Waits (polling: there is no event for it) until no connection is open in the relay.
    @discardableResult
    func waitForNoActiveConnections(_ seconds: Double = 5) -> Bool {
        pollUntil(seconds) { server.counters.activeConnections.load(ordering: .relaxed) == 0 }
    }

    func stop() {
        guard !stopped else { return }
        stopped = true
        server.requestStop()
        server.waitUntilStopped()
        #expect(!server.hasFailed, "a relay worker failed")
    }

    deinit { stop() }
}

// MARK: - Leak and memory checks

/// fd → what it is (readlink of /proc/self/fd/N).
func listOpenFileDescriptors() -> [Int32: String] {
    var out: [Int32: String] = [:]
    guard let dir = opendir("/proc/self/fd") else { return out }
    let own = dirfd(dir)
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        guard let fd = Int32(name), fd != own else { continue }
        var target = [CChar](repeating: 0, count: 256)
        let n = readlink("/proc/self/fd/\(fd)", &target, 255)
        out[fd] = n > 0 ? String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
    }
    closedir(dir)
    return out
}

/// Runs `body` (which must stop its relay and peers before returning) and checks that it left
/// no file descriptor open that was not open before. Polls briefly, because an fd closed by a
/// peer thread an instant ago may still be listed. An fd open before and closed meanwhile is
/// not a leak (an object of an earlier test may let go of its fds late), so the check compares
/// the fds themselves, not their count.
func expectNoFileDescriptorLeak(_ body: () throws -> Void,
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
    let beforeList = listOpenFileDescriptors()
    var thrown: (any Error)?
    do { try body() } catch { thrown = error }
    func added() -> [(key: Int32, value: String)] {
        var new = listOpenFileDescriptors().filter { beforeList[$0.key] != $0.value }.sorted { $0.key < $1.key }
        // Foundation's run loop (the thread that watches child processes) keeps an epoll fd, an
        // eventfd and a timerfd, and is torn down and set up again between tests as children
        // come and go: one such trio is not ours. Our engines never open a timerfd.
        let trio = ["anon_inode:[eventpoll]", "anon_inode:[eventfd]", "anon_inode:[timerfd]"]
        if trio.allSatisfy({ kind in new.contains { $0.value == kind } }) {
            for kind in trio { new.remove(at: new.firstIndex { $0.value == kind }!) }
        }
        return new
    }
    let settled = pollUntil(5) { added().isEmpty }
    if !settled {
        let addedText = added().map { "\($0.key)→\($0.value)" }.joined(separator: ", ")
        let message = "fd leak: \(beforeList.count) open fds before, \(Socket.openFileDescriptorCount()) after; new: [\(addedText)]"
        Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
    }
    if let thrown { throw thrown }
}

/// VmRSS of this process in bytes (from /proc/self/status).
func residentSetSize() -> Int {
    let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 8192)
    let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
    guard n > 0 else { return 0 }
    let text = String(decoding: buf[0..<n], as: UTF8.self)
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let digits = line.filter { $0.isNumber }
        return (Int(digits) ?? 0) * 1024
    }
    return 0
}

/// Engines every case runs on.
/// Both engines; io_uring is left out where it cannot run (a skip), except under
/// URING_RELAY_REQUIRE_PEERS=1, where its cases run and fail.
let engines: [EngineChoice] =
    TestEnvironment.uringAvailable || TestEnvironment.requirePeers ? [.uring, .epoll] : [.epoll]

/// A client socket owned by one test: closed exactly once (explicitly or at deinit), so a
/// test never closes an fd number that something else has reused since.
final class ClientSocket {
    private(set) var fd: Int32
    init(_ fd: Int32) { self.fd = fd }
    static func connect(_ address: SocketAddress, bufferSize: Int32? = nil) throws -> ClientSocket {
        ClientSocket(try Blocking.connect(address, bufferSize: bufferSize))
    }
    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }
    /// Abortive close (RST).
    func reset() {
        if fd >= 0 { Blocking.reset(fd); fd = -1 }
    }
    deinit { close() }
}
