import CURing
import Glibc
import UringRelay

/// The event loop of one SMTPLoad run, on the calling thread (pinned to the load CPU): every
/// client session, the sink (taken over from its thread for the run) and, in open loop, a
/// timerfd armed at the next message's due time, all on one epoll instance. One thread for all
/// of it means no cross-thread wake-ups on the load CPU, whose scheduling delays would otherwise
/// show up in the latencies. See SMTPLoad for what it measures.
final class SMTPLoadDriver {
    private let load: SMTPLoad
    private var sessions: [SMTPClientSession] = []
    private let epfd: Int32
    /// Open loop: expires at the next message's due time; -1 in closed loop.
    private var timerFD: Int32 = -1
    private static let timerMarker = UInt64.max
    private static let sinkMarker = UInt64.max - 1
    /// The part of the message after the patched head: the same for every message, kept at a
    /// stable address for sendmsg.
    private let tail: UnsafeMutableRawBufferPointer
    private let ehlo = Array("EHLO client.bench\r\n".utf8)
    private let quit = Array("QUIT\r\n".utf8)
    private let mail: [UInt8], rcpt: [UInt8], data: [UInt8], envelope: [UInt8]
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 64)
    private var eventData = [UInt64](repeating: 0, count: 256)
    private var eventFlags = [UInt32](repeating: 0, count: 256)

    private(set) var problems: [String] = []
    private(set) var problemCount = 0
    private(set) var histogram = LatencyHistogram()
    private(set) var measuredMessages = 0
    private(set) var acceptedMessages = 0
    private(set) var completedInWindow = 0
    /// When the run was stopped for falling behind (SMTPLoad.maxLatencyNs).
    private(set) var fellBehindAtNs: UInt64?
    /// Clock start and measured window of the run, for the completion rate.
    var window: Range<UInt64> { warmupEndNs..<max(warmupEndNs, endNs) }
    var startNs: UInt64 { t0 }
    private(set) var relayCPUSeconds: Double?

    private var idle: [Int] = []
    /// Due messages (open loop) not yet handed to a session, as indices k; `queueHead` is the next.
    private var queue: [Int] = []
    private var queueHead = 0
    private var liveSessions = 0
    private var readySessions = 0
    /// No more messages start: closed loop past the window, or open loop with all due messages sent.
    private var stopping = false
    private var warmupEndNs: UInt64 = .max
    private var endNs: UInt64 = .max
    private var t0 = UInt64(0)
    private var intervalNs = 0.0
    private var warmupCount = 0

    init(load: SMTPLoad) throws(SystemError) {
        self.load = load
        let e = load.template.envelopeCommands
        (mail, rcpt, data) = (e.mail, e.rcpt, e.data)
        envelope = e.mail + e.rcpt + e.data
        let wire = load.template.wire
        let headOctets = load.template.headOctets
        let tail = UnsafeMutableRawBufferPointer.allocate(byteCount: wire.count - headOctets, alignment: 64)
        wire.withUnsafeBytes { tail.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[headOctets...])) }
        self.tail = tail
        epfd = curing_epoll_create()
        if epfd < 0 { throw SystemError(operation: "epoll_create1", errno: -epfd) }
    }

    deinit {
        for s in sessions where s.phase != .done { close(s.fd) }
        if timerFD >= 0 { close(timerFD) }
        close(epfd)
        tail.deallocate()
        scratch.deallocate()
    }

    /// Connects, runs, quits. Problems end up in `problems`; the caller checks the sink.
    func run() -> [SMTPClientSession] {
        load.sink.lend()
        defer { load.sink.takeBack() }
        _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_ADD, load.sink.pollFD, CURING_EPOLLIN, Self.sinkMarker)
        let head = Array(load.template.wire[0..<load.template.headOctets])
        for i in 0..<load.sessions {
            do {
                let fd = try LoopbackClient.connect(port: load.port)
                try Socket.setNonBlocking(fd)
                let s = SMTPClientSession(fd: fd, index: UInt32(i), head: head)
                sessions.append(s)
                liveSessions += 1
                // Edge-triggered in and out: a backed-up message write resumes on EPOLLOUT without EPOLL_CTL_MOD.
                _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_ADD, fd,
                                     CURING_EPOLLIN | CURING_EPOLLOUT | CURING_EPOLLRDHUP | CURING_EPOLLET, UInt64(i))
            } catch {
                problem("session \(i): \(error)")
                return sessions
            }
        }
        // Set-up: greeting and EHLO on every session before the clock starts.
        let setupDeadline = MonotonicClock.nowNs() + load.setupTimeoutNs
        while readySessions + (load.sessions - liveSessions) < load.sessions {
            if MonotonicClock.nowNs() > setupDeadline {
                problem("\(load.sessions - readySessions) sessions not through greeting and EHLO after \(load.setupTimeoutNs / 1_000_000_000) s")
                return sessions
            }
            poll(timeoutMs: 10)
        }
        guard problemCount == 0 else { return sessions }

        t0 = MonotonicClock.nowNs()
        warmupEndNs = t0 + load.warmupNs
        endNs = warmupEndNs + load.durationNs
        var total = Int.max
        switch load.pacing {
        case .closedLoop:
            idle.removeAll()
            for s in sessions { startMessage(s, intendedNs: t0) }
        case .openLoop(let rate):
            intervalNs = 1e9 / Double(rate)
            total = Int(Double(load.warmupNs + load.durationNs) / intervalNs)
            warmupCount = Int(Double(load.warmupNs) / intervalNs)
            timerFD = curing_timerfd_create()
            if timerFD < 0 { problem("timerfd_create: \(errnoName(-timerFD))"); return sessions }
            _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_ADD, timerFD, CURING_EPOLLIN, Self.timerMarker)
        }
        var nextDue = 0
        var armedAtNs: UInt64 = 0
        var drainDeadline = UInt64.max
        var cpuAtWarmupEnd: Double?
        var warmupSeen = false, endSeen = false
        while liveSessions > 0 {
            let now = MonotonicClock.nowNs()
            if !warmupSeen && now >= warmupEndNs {
                warmupSeen = true
                cpuAtWarmupEnd = load.relayPid.flatMap { ProcessUsage.cpuSeconds(pid: $0) }
            }
            if !endSeen && now >= endNs {
                endSeen = true
                if let a = cpuAtWarmupEnd, let b = load.relayPid.flatMap({ ProcessUsage.cpuSeconds(pid: $0) }) {
                    relayCPUSeconds = b - a
                }
                if case .closedLoop = load.pacing { stopping = true }
            }
            if total != .max {
                // Messages due by now join the queue; the timer is set for the next one.
                while nextDue < total && dueNs(nextDue) <= now { queue.append(nextDue); nextDue += 1 }
                if nextDue < total && armedAtNs != dueNs(nextDue) {
                    armedAtNs = dueNs(nextDue)
                    _ = curing_timerfd_arm_at(timerFD, armedAtNs)
                }
                if let limit = load.maxLatencyNs, !stopping, queueHead < queue.count, now > dueNs(queue[queueHead]) + limit {
                    fellBehind(now - dueNs(queue[queueHead]), limit, what: "waited for a free session")
                }
                while !stopping, queueHead < queue.count, let i = idle.popLast() {
                    let k = queue[queueHead]
                    queueHead += 1
                    startMessage(sessions[i], intendedNs: dueNs(k), measured: k >= warmupCount)
                }
                if queueHead == queue.count { queue.removeAll(keepingCapacity: true); queueHead = 0 }
                // Not before the window's end: the relay's CPU time is read there.
                if nextDue == total && queue.isEmpty && endSeen { stopping = true }
            }
            if stopping {
                if drainDeadline == .max { drainDeadline = max(now, endNs) + load.drainNs }
                while let i = idle.popLast() { send(sessions[i], small: quit, phase: .quit) }
                if now > drainDeadline {
                    let stuck = sessions.filter { $0.phase != .done }
                    problem("\(stuck.count) sessions still busy \(load.drainNs / 1_000_000_000) s after the run (e.g. session \(stuck[0].index) in \(stuck[0].phase))")
                    break
                }
            }
            // Wake up at the window's edges, so CPU time and completions are split close to them.
            var timeoutMs: UInt64 = 10
            for edge in [warmupEndNs, endNs] where edge > now { timeoutMs = min(timeoutMs, (edge - now) / 1_000_000 + 1) }
            poll(timeoutMs: Int32(timeoutMs))
        }
        if total != .max, nextDue < total, problemCount == 0 { problem("only \(nextDue) of \(total) messages fell due") }
        return sessions
    }

    /// Open loop: when message k is due.
    private func dueNs(_ k: Int) -> UInt64 { t0 + UInt64(Double(k) * intervalNs) }

    private func poll(timeoutMs: Int32) {
        let n = curing_epoll_wait(epfd, &eventData, &eventFlags, Int32(eventData.count), timeoutMs)
        if n <= 0 { return }
        for e in 0..<Int(n) {
            let data = eventData[e], events = eventFlags[e]
            if data == Self.timerMarker {
                var expirations: UInt64 = 0
                _ = read(timerFD, &expirations, 8)
                continue
            }
            if data == Self.sinkMarker {
                load.sink.pump(timeoutMs: 0)
                continue
            }
            let s = sessions[Int(data)]
            if s.phase == .done { continue }
            if events & CURING_EPOLLOUT != 0 && s.hasPendingWrite { flush(s) }
            if events & (CURING_EPOLLIN | CURING_EPOLLRDHUP | CURING_EPOLLHUP | CURING_EPOLLERR) != 0 { readAll(s) }
        }
    }

    private func startMessage(_ s: SMTPClientSession, intendedNs: UInt64, measured: Bool? = nil) {
        s.intendedNs = intendedNs
        s.measured = measured ?? (intendedNs >= warmupEndNs)
        let id = BenchMailID(run: load.run, session: s.index, sequence: s.sequence)
        let offset = load.template.idOffset
        s.head.withUnsafeMutableBytes { id.write(into: $0.baseAddress! + offset) }
        s.envelopeReplies = 0
        send(s, small: s.pipelining ? envelope : mail, phase: .envelope)
    }

    private func send(_ s: SMTPClientSession, small: [UInt8], phase: SMTPClientSession.Phase) {
        s.phase = phase
        s.small = small
        s.sendingMessage = false
        s.sentOffset = 0
        s.hasPendingWrite = true
        flush(s)
    }

    private func sendMessage(_ s: SMTPClientSession) {
        s.phase = .final
        s.sendingMessage = true
        s.sentOffset = 0
        s.hasPendingWrite = true
        flush(s)
    }

    /// Writes what is pending until done or EAGAIN (EPOLLOUT resumes it).
    private func flush(_ s: SMTPClientSession) {
        while s.hasPendingWrite {
            let total = s.sendingMessage ? s.head.count + tail.count : s.small.count
            let r: Int = s.sendingMessage
                ? s.head.withUnsafeBytes { h in
                    Self.send(s.fd, UnsafeRawBufferPointer(rebasing: h[min(s.sentOffset, h.count)...]),
                              UnsafeRawBufferPointer(rebasing: tail[max(0, s.sentOffset - h.count)...]))
                }
                : s.small.withUnsafeBytes { Self.send(s.fd, UnsafeRawBufferPointer(rebasing: $0[s.sentOffset...]), nil) }
            if r > 0 {
                s.sentOffset += r
                if s.sentOffset == total { s.hasPendingWrite = false }
                continue
            }
            if r < 0 && errno == EINTR { continue }
            if r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            fail(s, "send: \(errnoName(errno))")
            return
        }
    }

    /// One sendmsg of up to two pieces (empty ones left out), without SIGPIPE. The iovecs live
    /// on the stack: this runs for every write of every message.
    private static func send(_ fd: Int32, _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer?) -> Int {
        withUnsafeTemporaryAllocation(of: iovec.self, capacity: 2) { iov in
            var n = 0
            if a.count > 0 {
                iov[n] = iovec(iov_base: UnsafeMutableRawPointer(mutating: a.baseAddress), iov_len: a.count)
                n += 1
            }
            if let b, b.count > 0 {
                iov[n] = iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress), iov_len: b.count)
                n += 1
            }
            var m = msghdr()
            m.msg_iov = iov.baseAddress
            m.msg_iovlen = n
            return sendmsg(fd, &m, CURING_MSG_NOSIGNAL | Int32(MSG_DONTWAIT))
        }
    }

    private func readAll(_ s: SMTPClientSession) {
        while s.phase != .done {
            let r = recv(s.fd, scratch.baseAddress, scratch.count, Int32(MSG_DONTWAIT))
            if r > 0 {
                let replies: [UpstreamReply]
                do {
                    replies = try s.replies.parse(UnsafeRawBufferPointer(rebasing: scratch[0..<r]))
                } catch {
                    fail(s, "unparsable reply in \(s.phase): \(error)")
                    return
                }
                for reply in replies where s.phase != .done { handle(s, reply) }
                continue
            }
            if r < 0 && errno == EINTR { continue }
            if r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            fail(s, r == 0 ? "connection closed by the server in \(s.phase)" : "recv in \(s.phase): \(errnoName(errno))")
            return
        }
    }

    private func handle(_ s: SMTPClientSession, _ reply: UpstreamReply) {
        let now = MonotonicClock.nowNs()
        func expect(_ code: Int, _ what: String) -> Bool {
            if reply.code == code && !(s.hasPendingWrite && s.sendingMessage) { return true }
            fail(s, "expected \(code) to \(what), got \(reply.code) \(reply.lines.first ?? "")")
            return false
        }
        switch s.phase {
        case .greeting:
            guard expect(220, "the connection") else { return }
            send(s, small: ehlo, phase: .ehlo)
        case .ehlo:
            guard expect(250, "EHLO") else { return }
            s.pipelining = reply.ehloKeywords.contains("PIPELINING")
            s.phase = .idle
            readySessions += 1
            idle.append(Int(s.index))
        case .idle:
            fail(s, "unexpected reply \(reply.code) while idle")
        case .envelope:
            let (code, what) = s.envelopeReplies < 2 ? (250, s.envelopeReplies == 0 ? "MAIL FROM" : "RCPT TO") : (354, "DATA")
            guard expect(code, what) else { return }
            s.envelopeReplies += 1
            if s.envelopeReplies == 3 {
                sendMessage(s)
            } else if !s.pipelining {
                send(s, small: s.envelopeReplies == 1 ? rcpt : data, phase: .envelope)
            }
        case .final:
            guard expect(250, "the end of data") else { return }
            s.accepted += 1
            s.sequence += 1
            acceptedMessages += 1
            if s.measured { histogram.record(now > s.intendedNs ? now - s.intendedNs : 0) }
            if now >= warmupEndNs && now < endNs { completedInWindow += 1 }
            if let limit = load.maxLatencyNs, !stopping, now > s.intendedNs + limit {
                fellBehind(now - s.intendedNs, limit, what: "was accepted")
            }
            switch load.pacing {
            case .closedLoop:
                if now >= warmupEndNs && now < endNs { measuredMessages += 1 }
                if stopping || now >= endNs {
                    s.phase = .idle
                    idle.append(Int(s.index))
                } else {
                    startMessage(s, intendedNs: now)
                }
            case .openLoop:
                if s.measured { measuredMessages += 1 }
                s.phase = .idle
                idle.append(Int(s.index))
            }
        case .quit:
            guard expect(221, "QUIT") else { return }
            close(s.fd)
            s.phase = .done
            liveSessions -= 1
        case .done:
            break
        }
    }

    private func fail(_ s: SMTPClientSession, _ message: String) {
        problem("session \(s.index): \(message)")
        stopping = true  // the run is invalid: let the other sessions finish and quit
        if s.phase != .done {
            close(s.fd)
            s.phase = .done
            liveSessions -= 1
        }
        idle.removeAll { $0 == Int(s.index) }
    }

    /// The sweep's early stop: a message `lateNs` past its due time.
    private func fellBehind(_ lateNs: UInt64, _ limitNs: UInt64, what: String) {
        fellBehindAtNs = MonotonicClock.nowNs()
        problem("fell behind: a message \(what) \(lateNs / 1_000_000) ms after its due time (limit \(limitNs / 1_000_000) ms)")
        stopping = true
    }

    private func problem(_ message: String) {
        problemCount += 1
        if problems.count < 8 { problems.append(message) }
    }
}
