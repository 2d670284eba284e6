import CURing
import Glibc
import Synchronization
import UringRelay

/// relay-bench's built-in SMTP server, the relay's upstream in the smtp scenario: one loopback
/// listener, one epoll thread on the load CPU, any number of connections. ESMTP with
/// PIPELINING, 8BITMIME, SIZE and ENHANCEDSTATUSCODES; answers EHLO/HELO, MAIL, RCPT, DATA,
/// RSET, NOOP and QUIT, in order and strictly (a command out of sequence is refused and counted
/// as a problem, since a correct relay never sends one). Each message's DATA goes through a
/// BenchMailScanner and its summary is recorded before the final 250 is sent, so a client that
/// has its 250 can find the message in `take()`.
///
/// Between runs the sink's own thread serves it. During a run the load thread takes it over
/// (`lend`, then `pump` whenever `pollFD` is readable, then `takeBack`): sink and load generator
/// share one CPU, and one thread serving both sides avoids a wake-up of the other thread — and
/// the scheduler's delay before it runs, milliseconds under load — at every step of every message.
final class SMTPSink: @unchecked Sendable {
    // @unchecked: `connections` and `readBuffer` are used by one thread at a time: the sink
    // thread, or the load thread between lend() and takeBack(), handed over through the
    // `lent`/`parked` atomics (release/acquire). `counters` is behind a Mutex.
    let port: UInt16
    static let hostname = "sink.bench"
    /// Advertised in EHLO (SIZE); larger MAIL SIZE= values are refused.
    static let sizeLimit = 64 << 20
    private let listenFD: Int32
    private let epfd: Int32
    private let cpu: Int?
    private let counters = Mutex(SMTPSinkCounters())
    private let stopRequested = Atomic<Bool>(false)
    /// A load thread wants the sink.
    private let lent = Atomic<Bool>(false)
    /// The sink thread has stopped touching the sink's state (answer to `lent`).
    private let parked = Atomic<Bool>(false)
    private var connections: [Int32: SMTPSinkConnection] = [:]
    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 64)
    private var eventData = [UInt64](repeating: 0, count: 256)
    private var eventFlags = [UInt32](repeating: 0, count: 256)
    private var thread: WorkerThread?
    private static let listenerMarker = UInt64.max

    private static let greeting = Array("220 \(hostname) ESMTP relay-bench sink\r\n".utf8)
    private static let ehlo = Array("250-\(hostname)\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE \(sizeLimit)\r\n250 ENHANCEDSTATUSCODES\r\n".utf8)
    private static let helo = Array("250 \(hostname)\r\n".utf8)
    private static let mailOK = Array("250 2.1.0 Ok\r\n".utf8)
    private static let rcptOK = Array("250 2.1.5 Ok\r\n".utf8)
    private static let goAhead = Array("354 End data with <CR><LF>.<CR><LF>\r\n".utf8)
    private static let queued = Array("250 2.0.0 Ok: queued\r\n".utf8)
    private static let ok = Array("250 2.0.0 Ok\r\n".utf8)
    private static let bye = Array("221 2.0.0 Bye\r\n".utf8)
    private static let badSequence = Array("503 5.5.1 Bad sequence of commands\r\n".utf8)
    private static let unknown = Array("500 5.5.2 Command not recognized\r\n".utf8)
    private static let badLine = Array("500 5.5.2 Line too long or bare CR/LF\r\n".utf8)
    private static let tooBig = Array("552 5.3.4 Message size exceeds fixed limit\r\n".utf8)
    private static let verbEHLO = Array("EHLO".utf8), verbHELO = Array("HELO".utf8), verbMAIL = Array("MAIL".utf8)
    private static let verbRCPT = Array("RCPT".utf8), verbDATA = Array("DATA".utf8), verbRSET = Array("RSET".utf8)
    private static let verbNOOP = Array("NOOP".utf8), verbQUIT = Array("QUIT".utf8)

    /// Listens on 127.0.0.1:`port` (0: any free port).
    init(cpu: Int?, port listenPort: UInt16 = 0) throws(SystemError) {
        self.cpu = cpu
        listenFD = try Socket.makeListener(.ipv4Loopback(port: listenPort), reusePort: false)
        port = try Socket.localAddress(of: listenFD).port
        epfd = curing_epoll_create()
        if epfd < 0 { close(listenFD); throw SystemError(operation: "epoll_create1", errno: -epfd) }
        _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_ADD, listenFD, CURING_EPOLLIN | CURING_EPOLLET, Self.listenerMarker)
    }

    func start() {
        thread = WorkerThread(name: "bench-smtp-sink") { [self] in
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

    /// The sink's epoll fd: readable when `pump` has work. For the borrower's own epoll set.
    var pollFD: Int32 { epfd }

    /// Hands the sink to the calling thread until `takeBack()`; waits for the sink thread to
    /// let go (at most one of its 5 ms waits).
    func lend() {
        lent.store(true, ordering: .releasing)
        while !parked.load(ordering: .acquiring) { Self.nap(nanoseconds: 100_000) }
    }

    /// Returns the sink to its own thread.
    func takeBack() {
        lent.store(false, ordering: .releasing)
        while parked.load(ordering: .acquiring) { Self.nap(nanoseconds: 100_000) }
    }

    /// Messages received since the last `take()`, leaving them there.
    var messageCount: Int { counters.withLock { $0.messages.count } }

    /// Everything recorded since the last call (and starts afresh).
    func take() -> SMTPSinkCounters {
        counters.withLock { c in
            let taken = c
            c = SMTPSinkCounters()
            c.messages.reserveCapacity(taken.messages.count)
            return taken
        }
    }

    // MARK: - Sink thread

    private func run() {
        while !stopRequested.load(ordering: .acquiring) {
            if lent.load(ordering: .acquiring) {
                parked.store(true, ordering: .releasing)
                while lent.load(ordering: .acquiring) { Self.nap(nanoseconds: 1_000_000) }
                parked.store(false, ordering: .releasing)
                continue
            }
            pump(timeoutMs: 5)
        }
    }

    /// Waits up to `timeoutMs` for events and serves them; only by the thread that has the sink.
    func pump(timeoutMs: Int32) {
        let n = curing_epoll_wait(epfd, &eventData, &eventFlags, Int32(eventData.count), timeoutMs)
        if n <= 0 { return }
        for i in 0..<Int(n) {
            let data = eventData[i]
            if data == Self.listenerMarker {
                acceptAll()
                continue
            }
            guard let c = connections[Int32(truncatingIfNeeded: data)] else { continue }
            let ev = eventFlags[i]
            if ev & (CURING_EPOLLIN | CURING_EPOLLRDHUP | CURING_EPOLLHUP | CURING_EPOLLERR) != 0 {
                readAll(c)
            } else if ev & CURING_EPOLLOUT != 0 {
                flush(c)
            }
        }
    }

    private static func nap(nanoseconds: Int) {
        var ts = timespec(tv_sec: 0, tv_nsec: nanoseconds)
        nanosleep(&ts, nil)
    }

    private func acceptAll() {
        while true {
            let fd = curing_accept4(listenFD, nil, nil, CURING_SOCK_NONBLOCK | CURING_SOCK_CLOEXEC)
            if fd < 0 { return }
            try? Socket.setNoDelay(fd)
            let c = SMTPSinkConnection(fd: fd)
            connections[fd] = c
            counters.withLock { $0.connections += 1 }
            // Edge-triggered in and out: no EPOLL_CTL_MOD needed when replies back up.
            _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_ADD, fd,
                                 CURING_EPOLLIN | CURING_EPOLLOUT | CURING_EPOLLRDHUP | CURING_EPOLLET, UInt64(fd))
            c.out += Self.greeting
            flush(c)
        }
    }

    /// Edge-triggered: reads until EAGAIN, then sends all the replies the batch produced.
    private func readAll(_ c: SMTPSinkConnection) {
        while true {
            let r = recv(c.fd, readBuffer.baseAddress, readBuffer.count, Int32(MSG_DONTWAIT))
            if r > 0 {
                consume(c, UnsafeRawBufferPointer(rebasing: readBuffer[0..<r]))
                if c.closing { break }
                continue
            }
            if r < 0 && errno == EINTR { continue }
            if r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
            // EOF or error: the relay may drop an idle upstream connection, but not mid-message.
            if c.inData { counters.withLock { $0.problem("upstream connection closed in the middle of DATA") } }
            finish(c)
            return
        }
        flush(c)
    }

    private func consume(_ c: SMTPSinkConnection, _ input: UnsafeRawBufferPointer) {
        var rest = input
        while !rest.isEmpty && !c.closing {
            if c.inData {
                guard let n = c.scanner.scan(rest) else { return }
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
                let summary = c.scanner.finish()
                c.inData = false
                c.inTransaction = false
                c.recipients = 0
                // Recorded before the 250 goes out, so the message is there when the client knows.
                let now = MonotonicClock.nowNs()
                counters.withLock { $0.messages.append(summary); $0.lastMessageNs = now }
                c.out += Self.queued
                continue
            }
            let (event, consumed) = c.lines.next(rest)
            rest = UnsafeRawBufferPointer(rebasing: rest[consumed...])
            guard let event else { return }
            switch event {
            case .line(let line):
                command(c, line)
            case .tooLong, .bareLineEnding:
                refuse(c, Self.badLine, "command line too long or with a bare CR/LF")
            }
        }
    }

    private func command(_ c: SMTPSinkConnection, _ line: [UInt8]) {
        let verb = line.prefix(4).map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }
        guard line.count == 4 || (line.count > 4 && line[4] == 32) else {
            refuse(c, Self.unknown, "unknown command \"\(Self.printable(line))\"")
            return
        }
        switch verb {
        case Self.verbEHLO, Self.verbHELO:
            c.greeted = true
            c.inTransaction = false
            c.recipients = 0
            c.out += verb == Self.verbEHLO ? Self.ehlo : Self.helo
        case Self.verbMAIL:
            guard c.greeted, !c.inTransaction else { refuse(c, Self.badSequence, "MAIL out of sequence"); return }
            guard Self.hasPrefix(line, "MAIL FROM:") else { refuse(c, Self.unknown, "malformed MAIL"); return }
            if let size = Self.sizeParameter(line), size > Self.sizeLimit {
                refuse(c, Self.tooBig, "MAIL SIZE=\(size) over the advertised limit")
                return
            }
            c.inTransaction = true
            c.out += Self.mailOK
        case Self.verbRCPT:
            guard c.inTransaction else { refuse(c, Self.badSequence, "RCPT without MAIL"); return }
            guard Self.hasPrefix(line, "RCPT TO:") else { refuse(c, Self.unknown, "malformed RCPT"); return }
            c.recipients += 1
            c.out += Self.rcptOK
        case Self.verbDATA:
            guard c.inTransaction, c.recipients > 0 else { refuse(c, Self.badSequence, "DATA without MAIL and RCPT"); return }
            c.inData = true
            c.out += Self.goAhead
        case Self.verbRSET:
            c.inTransaction = false
            c.recipients = 0
            counters.withLock { $0.resets += 1 }
            c.out += Self.ok
        case Self.verbNOOP:
            c.out += Self.ok
        case Self.verbQUIT:
            c.out += Self.bye
            c.closing = true
        default:
            refuse(c, Self.unknown, "unknown command \"\(Self.printable(line))\"")
        }
    }

    private func refuse(_ c: SMTPSinkConnection, _ reply: [UInt8], _ why: String) {
        c.out += reply
        counters.withLock { $0.problem("sink refused: \(why)") }
    }

    private func flush(_ c: SMTPSinkConnection) {
        while c.outOffset < c.out.count {
            let r = c.out.withUnsafeBytes { raw in
                send(c.fd, raw.baseAddress! + c.outOffset, raw.count - c.outOffset, Int32(MSG_DONTWAIT) | CURING_MSG_NOSIGNAL)
            }
            if r > 0 { c.outOffset += r; continue }
            if r < 0 && errno == EINTR { continue }
            if r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }  // EPOLLOUT resumes
            finish(c)
            return
        }
        c.out.removeAll(keepingCapacity: true)
        c.outOffset = 0
        if c.closing { finish(c) }
    }

    private func finish(_ c: SMTPSinkConnection) {
        _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_DEL, c.fd, 0, 0)
        close(c.fd)
        connections[c.fd] = nil
    }

    private static func hasPrefix(_ line: [UInt8], _ prefix: String) -> Bool {
        let p = Array(prefix.utf8)
        guard line.count >= p.count else { return false }
        for i in 0..<p.count where (line[i] >= 97 && line[i] <= 122 ? line[i] - 32 : line[i]) != p[i] { return false }
        return true
    }

    /// The value of a ` SIZE=n` parameter, if there is one.
    private static func sizeParameter(_ line: [UInt8]) -> Int? {
        let text = String(decoding: line, as: UTF8.self).uppercased()
        guard let r = text.firstRange(of: " SIZE=") else { return nil }
        return Int(text[r.upperBound...].prefix { $0.isNumber })
    }

    private static func printable(_ line: [UInt8]) -> String {
        String(decoding: line.prefix(40).map { $0 >= 32 && $0 < 127 ? $0 : 63 }, as: UTF8.self)
    }
}
