import CURing
import Glibc
import Synchronization
import UringRelay

/// The relay's upstream inside relay-bench: one loopback listener, one epoll thread. Each
/// connection starts with a PeerHello that picks the role: a discard sink that verifies every
/// byte against StreamPattern (bulk throughput), or an echo server (request/response latency).
final class BenchPeer: @unchecked Sendable {
    // @unchecked: `connections` and `readBuffer` are used only by the peer thread after start();
    // what other threads read (`records`, `stopRequested`) is behind Mutex/Atomic.
    let port: UInt16
    private let listenFD: Int32
    private let epfd: Int32
    private let pattern: StreamPattern
    private let cpu: Int?
    private let records = Mutex<[SinkRecordKey: SinkRecord]>([:])
    private let stopRequested = Atomic<Bool>(false)
    private var connections: [Int32: PeerConnection] = [:]
    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 64)
    private var thread: WorkerThread?
    private static let listenerMarker = UInt64.max

    /// Listens on 127.0.0.1:`port` (0: any free port).
    init(pattern: StreamPattern, cpu: Int?, port listenPort: UInt16 = 0) throws(SystemError) {
        self.pattern = pattern
        self.cpu = cpu
        listenFD = try Socket.makeListener(.ipv4Loopback(port: listenPort), reusePort: false)
        port = try Socket.localAddress(of: listenFD).port
        epfd = curing_epoll_create()
        if epfd < 0 { throw SystemError(operation: "epoll_create1", errno: -epfd) }
        _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_ADD, listenFD, CURING_EPOLLIN, Self.listenerMarker)
    }

    func start() {
        thread = WorkerThread(name: "bench-peer") { [self] in
            CPUPinning.pinCurrentThread(cpu)
            run()
        }
    }

    func stop() {
        stopRequested.store(true, ordering: .releasing)
        thread?.join()
        thread = nil
        for fd in connections.keys { close(fd) }
        connections.removeAll()
        close(listenFD)
        close(epfd)
        readBuffer.deallocate()
    }

    /// The sink's record of a finished bulk stream (removed from the peer).
    func takeRecord(_ key: SinkRecordKey) -> SinkRecord? {
        records.withLock { $0.removeValue(forKey: key) }
    }

    // MARK: - Peer thread

    private func run() {
        var data = [UInt64](repeating: 0, count: 256)
        var events = [UInt32](repeating: 0, count: 256)
        while !stopRequested.load(ordering: .acquiring) {
            let n = curing_epoll_wait(epfd, &data, &events, Int32(data.count), 50)
            if n <= 0 { continue }
            for i in 0..<Int(n) {
                if data[i] == Self.listenerMarker {
                    acceptAll()
                    continue
                }
                guard let c = connections[Int32(truncatingIfNeeded: data[i])] else { continue }
                let ev = events[i]
                if ev & CURING_EPOLLOUT != 0, c.wantsWrite { flush(c) }
                if ev & (CURING_EPOLLIN | CURING_EPOLLRDHUP | CURING_EPOLLHUP | CURING_EPOLLERR) != 0 { readSome(c) }
            }
        }
    }

    private func acceptAll() {
        while true {
            let fd = curing_accept4(listenFD, nil, nil, CURING_SOCK_NONBLOCK | CURING_SOCK_CLOEXEC)
            if fd < 0 { return }
            try? Socket.setNoDelay(fd)
            connections[fd] = PeerConnection(fd: fd)
            _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_ADD, fd, CURING_EPOLLIN | CURING_EPOLLRDHUP, UInt64(fd))
        }
    }

    private func readSome(_ c: PeerConnection) {
        // Bounded reads per wake-up so one fast stream cannot starve the others.
        for _ in 0..<16 {
            if c.wantsWrite { return }  // echo: wait until the backlog is sent
            let r = recv(c.fd, readBuffer.baseAddress, readBuffer.count, Int32(MSG_DONTWAIT))
            if r > 0 {
                if !consume(c, UnsafeRawBufferPointer(rebasing: readBuffer[0..<r])) { return }
            } else if r == 0 {
                c.record.cleanEOF = true
                finish(c)
                return
            } else {
                let e = errno
                if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return }
                c.record.error = "recv: \(errnoName(e))"
                finish(c)
                return
            }
        }
    }

    /// false when the connection was closed.
    private func consume(_ c: PeerConnection, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var rest = bytes
        if c.parsed == nil {
            let take = min(PeerHello.size - c.hello.count, rest.count)
            c.hello += rest[0..<take]
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if c.hello.count < PeerHello.size { return true }
            guard let hello = PeerHello(c.hello) else {
                finish(c)
                return false
            }
            c.parsed = hello
        }
        guard let hello = c.parsed, !rest.isEmpty else { return true }
        switch hello.mode {
        case .sink:
            verify(c, hello.connection, rest)
            return true
        case .echo:
            return echo(c, rest)
        }
    }

    private func verify(_ c: PeerConnection, _ id: UInt32, _ bytes: UnsafeRawBufferPointer) {
        var off = 0
        while off < bytes.count {
            let n = min(bytes.count - off, StreamPattern.maxRun)
            if c.record.firstMismatch == nil {
                let expected = pattern.pointer(connection: id, position: c.record.bytes)
                let got = bytes.baseAddress! + off
                if memcmp(expected, got, n) != 0 {
                    let g = got.assumingMemoryBound(to: UInt8.self)
                    var i = 0
                    while i < n && expected[i] == g[i] { i += 1 }
                    c.record.firstMismatch = c.record.bytes + UInt64(i)
                }
            }
            c.record.bytes += UInt64(n)
            off += n
        }
    }

    private func echo(_ c: PeerConnection, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let r = send(c.fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_DONTWAIT) | CURING_MSG_NOSIGNAL)
            if r > 0 { sent += r; continue }
            let e = errno
            if r < 0 && e == EINTR { continue }
            if r < 0 && (e == EAGAIN || e == EWOULDBLOCK) { break }
            finish(c)
            return false
        }
        if sent < bytes.count {
            c.pending += bytes[sent...]
            setWriteInterest(c, true)
        }
        return true
    }

    private func flush(_ c: PeerConnection) {
        while c.pendingOffset < c.pending.count {
            let r = c.pending.withUnsafeBytes { raw in
                send(c.fd, raw.baseAddress! + c.pendingOffset, raw.count - c.pendingOffset,
                     Int32(MSG_DONTWAIT) | CURING_MSG_NOSIGNAL)
            }
            if r > 0 { c.pendingOffset += r; continue }
            let e = errno
            if r < 0 && e == EINTR { continue }
            if r < 0 && (e == EAGAIN || e == EWOULDBLOCK) { return }
            finish(c)
            return
        }
        c.pending.removeAll(keepingCapacity: true)
        c.pendingOffset = 0
        setWriteInterest(c, false)
    }

    /// CURing exposes no EPOLL_CTL_MOD; this rare path re-adds the fd.
    private func setWriteInterest(_ c: PeerConnection, _ on: Bool) {
        c.wantsWrite = on
        _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_DEL, c.fd, 0, 0)
        let ev = on ? CURING_EPOLLOUT : (CURING_EPOLLIN | CURING_EPOLLRDHUP)
        _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_ADD, c.fd, ev, UInt64(c.fd))
    }

    /// Stores a sink's record (before closing, so a client that sees the close finds it), closes.
    private func finish(_ c: PeerConnection) {
        if let hello = c.parsed, hello.mode == .sink {
            c.record.endNs = MonotonicClock.nowNs()
            let key = SinkRecordKey(run: hello.run, connection: hello.connection)
            let record = c.record
            records.withLock { $0[key] = record }
        }
        _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_DEL, c.fd, 0, 0)
        close(c.fd)
        connections[c.fd] = nil
    }
}
