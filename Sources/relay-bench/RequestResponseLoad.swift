import CURing
import Glibc
import UringRelay

/// Request/response workload, open loop: request k (k = 0, 1, ...) is due at t0 + k/rate on
/// connection k mod C, whether or not earlier replies came back. A sender thread writes each
/// request at its due time (late ones immediately); a receiver thread reads echoes, checks each
/// reply byte for byte and records latency from the request's due time (so a stalled relay shows
/// up as latency, not as fewer requests: no coordinated omission). Requests due in the first
/// `warmupNs` are checked but not measured.
struct RequestResponseLoad {
    var relayPort: UInt16
    var relayPid: pid_t
    var connections: Int
    var rate: Int
    var durationNs: UInt64
    var warmupNs: UInt64
    var run: UInt16
    var cpu: Int?
    var messageBytes = RequestMessage.defaultSize
    /// How long after the last send missing replies are waited for before counting them lost.
    var drainNs: UInt64 = 3_000_000_000
    /// A reply later than this after its due time ends the run as "fell behind" (saturation
    /// sweep: an overloaded step stops within this time instead of queueing for the whole run);
    /// nil: no limit.
    var maxLatencyNs: UInt64? = nil

    func execute() -> RequestResponseOutcome {
        var outcome = RequestResponseOutcome(connections: connections, offeredRate: rate)
        var fds: [Int32] = []
        defer { for fd in fds { close(fd) } }
        for i in 0..<connections {
            do {
                let fd = try LoopbackClient.connect(port: relayPort)
                fds.append(fd)
                let hello = PeerHello(mode: .echo, run: run, connection: UInt32(i)).bytes
                if !hello.withUnsafeBytes({ LoopbackClient.writeAll(fd, $0.baseAddress!, $0.count) }) {
                    outcome.problems.append("conn \(i): hello: \(errnoName(errno))")
                }
            } catch {
                outcome.problems.append("conn \(i): \(error)")
                return outcome
            }
        }
        guard outcome.valid else { return outcome }

        let intervalNs = 1e9 / Double(rate)
        let total = Int(Double(warmupNs + durationNs) / intervalNs)
        let warmupCount = Int(Double(warmupNs) / intervalNs)
        let shared = RequestResponseShared()
        let slots = RequestResponseSlots()
        let t0 = MonotonicClock.nowNs() + 1_000_000
        let (cpu, pid, c, drainNs) = (self.cpu, relayPid, connections, self.drainNs)
        let window = (t0 + warmupNs)..<(t0 + warmupNs + durationNs)
        let maxLatencyNs = self.maxLatencyNs
        let sendFDs = fds
        let size = messageBytes

        let receiver = WorkerThread(name: "bench-rr-recv") {
            CPUPinning.pinCurrentThread(cpu)
            Self.receive(fds: sendFDs, size: size, t0: t0, intervalNs: intervalNs, warmupCount: warmupCount, window: window,
                         maxLatencyNs: maxLatencyNs, drainNs: drainNs, shared: shared, slots: slots)
        }
        let sender = WorkerThread(name: "bench-rr-send") {
            CPUPinning.pinCurrentThread(cpu)
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
            defer { buffer.deallocate() }
            for k in 0..<total {
                if shared.abort.load(ordering: .relaxed) { break }
                let due = t0 + UInt64(Double(k) * intervalNs)
                if MonotonicClock.nowNs() < due { Self.sleep(untilNs: due) }
                if k == warmupCount { slots.relayCPUAtWarmupEnd = ProcessUsage.cpuSeconds(pid: pid) }
                let conn = k % c
                RequestMessage.fill(buffer, connection: UInt32(conn), sequence: UInt64(k / c), size: size)
                // Counted before the write: the echo may come back before write() returns.
                shared.sent.store(k + 1, ordering: .releasing)
                if !LoopbackClient.writeAll(sendFDs[conn], buffer, size) {
                    slots.senderError = "conn \(conn): send: \(errnoName(errno))"
                    break
                }
            }
            shared.senderEndNs.store(MonotonicClock.nowNs(), ordering: .relaxed)
            shared.senderDone.store(true, ordering: .releasing)
        }
        sender.join()
        receiver.join()
        let cpuEnd = ProcessUsage.cpuSeconds(pid: relayPid)
        if let a = slots.relayCPUAtWarmupEnd, let b = cpuEnd { outcome.relayCPUSeconds = b - a }

        outcome.sent = shared.sent.load(ordering: .acquiring)
        outcome.received = slots.received
        outcome.repliesInWindow = slots.repliesInWindow
        outcome.histogram = slots.histogram
        outcome.measuredSeconds = Double(durationNs) / 1e9
        outcome.windowRate = CompletionRate.perSecond(inWindow: slots.repliesInWindow, total: slots.received, start: t0,
                                                 window: window, stoppedAt: slots.fellBehindAtNs)
        if let e = slots.senderError { outcome.problems.append(e) }
        outcome.problems += slots.receiverProblems
        if outcome.sent < total { outcome.problems.append("sent only \(outcome.sent) of \(total) requests") }
        if slots.mismatches > 0 { outcome.problems.append("\(slots.mismatches) replies differ from their requests") }
        if outcome.received < outcome.sent {
            outcome.problems.append("\(outcome.sent - outcome.received) replies lost")
        }
        return outcome
    }

    private static func receive(fds: [Int32], size: Int, t0: UInt64, intervalNs: Double, warmupCount: Int, window: Range<UInt64>,
                                maxLatencyNs: UInt64?, drainNs: UInt64, shared: RequestResponseShared, slots: RequestResponseSlots) {
        let c = fds.count
        let epfd = curing_epoll_create()
        guard epfd >= 0 else { slots.receiverProblems.append("epoll_create: \(errnoName(-epfd))"); shared.abort.store(true, ordering: .relaxed); return }
        defer { close(epfd) }
        for (i, fd) in fds.enumerated() {
            _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_ADD, fd, CURING_EPOLLIN | CURING_EPOLLRDHUP, UInt64(i))
        }
        // Per connection: a partly received reply and the sequence number of the next reply.
        let partial = UnsafeMutableRawPointer.allocate(byteCount: c * size, alignment: 16)
        defer { partial.deallocate() }
        var filled = [Int](repeating: 0, count: c)
        var nextSeq = [UInt64](repeating: 0, count: c)
        let expected = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { expected.deallocate() }
        let scratchSize = 64 * 1024
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchSize, alignment: 16)
        defer { scratch.deallocate() }
        var data = [UInt64](repeating: 0, count: 256)
        var events = [UInt32](repeating: 0, count: 256)

        func fail(_ message: String) {
            slots.receiverProblems.append(message)
            shared.abort.store(true, ordering: .relaxed)
        }

        while true {
            if shared.senderDone.load(ordering: .acquiring) {
                let sent = shared.sent.load(ordering: .acquiring)
                if slots.received >= sent { return }
                if MonotonicClock.nowNs() > shared.senderEndNs.load(ordering: .relaxed) + drainNs { return }
            }
            let n = curing_epoll_wait(epfd, &data, &events, Int32(data.count), 20)
            if n < 0 { continue }
            for e in 0..<Int(n) {
                let i = Int(data[e])
                let r = recv(fds[i], scratch, scratchSize, Int32(MSG_DONTWAIT))
                if r == 0 { fail("conn \(i): closed by relay"); return }
                if r < 0 {
                    if errno == EAGAIN || errno == EINTR { continue }
                    fail("conn \(i): recv: \(errnoName(errno))")
                    return
                }
                let now = MonotonicClock.nowNs()
                var off = 0
                while off < r {
                    let take = min(size - filled[i], r - off)
                    memcpy(partial + i * size + filled[i], scratch + off, take)
                    filled[i] += take
                    off += take
                    if filled[i] < size { break }
                    filled[i] = 0
                    let j = nextSeq[i]
                    nextSeq[i] += 1
                    let k = Int(j) * c + i
                    if k >= shared.sent.load(ordering: .acquiring) {
                        fail("conn \(i): reply \(j) before its request was sent")
                        return
                    }
                    RequestMessage.fill(expected, connection: UInt32(i), sequence: j, size: size)
                    if memcmp(expected, partial + i * size, size) != 0 {
                        slots.mismatches += 1
                    }
                    slots.received += 1
                    if window.contains(now) { slots.repliesInWindow += 1 }
                    let due = t0 + UInt64(Double(k) * intervalNs)
                    if k >= warmupCount { slots.histogram.record(now > due ? now - due : 0) }
                    if let limit = maxLatencyNs, now > due + limit {
                        slots.fellBehindAtNs = now
                        fail("fell behind: reply \(k) came \((now - due) / 1_000_000) ms after its due time (limit \(limit / 1_000_000) ms)")
                        return
                    }
                }
            }
        }
    }

    /// Absolute CLOCK_MONOTONIC sleep (also the rtsp scenario's pacing).
    static func sleep(untilNs: UInt64) {
        var ts = timespec(tv_sec: Int(untilNs / 1_000_000_000), tv_nsec: Int(untilNs % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }
}
