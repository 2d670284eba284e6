import CURing
import Glibc
import UringRelay

/// rtp workload: one RTP source sending to the relay at a fixed packet rate, the relay fanning
/// out to `receivers` (RTPReceiverSockets, each a `--to`).
///
/// Open loop: packet k is due at t0 + k/rate whatever happened before; the sender sleeps on a
/// timerfd armed at the next due time (epoll_wait's millisecond timeout is too coarse for
/// thousands of packets a second) and stamps each packet with its due time, so a stall in the
/// sender, the relay or a receiver shows up as latency, not as packets never sent. Receiver
/// threads (RTPReceiverGroup) check every datagram and record latency for the packets due in
/// the measured window, after the warm-up. Lost datagrams beyond `lossAllowance` of those
/// expected, any duplicate, reorder or damaged byte make the run invalid.
struct RTPLoad {
    var relayPort: UInt16
    /// The relay, for its CPU time; nil when the load goes straight to the receivers (tests).
    var relayPid: pid_t?
    var receivers: RTPReceiverSockets
    var packetRate: Int
    var packetBytes: Int
    var warmupNs: UInt64
    var durationNs: UInt64
    var cpu: Int?
    /// Receiver threads (each serves a share of the receivers).
    var receiverThreads = 2
    /// Lost fraction of the expected datagrams still counted as a valid run: loopback UDP drops
    /// only when a socket queue overflows, which a working relay and receiver never cause.
    var lossAllowance = 0.001
    var drainNs: UInt64 = 500_000_000

    func execute() -> RTPLoadOutcome {
        var outcome = RTPLoadOutcome(receivers: receivers.fds.count, packetRate: packetRate, packetBytes: packetBytes)
        let sender: Int32
        do {
            sender = try Socket.makeConnectedDatagramSocket(local: .ipv4Loopback(port: 0), remote: .ipv4Loopback(port: relayPort))
        } catch {
            outcome.problems.append("sender socket: \(error)")
            return outcome
        }
        defer { close(sender) }
        let timer = curing_timerfd_create()
        guard timer >= 0 else {
            outcome.problems.append("timerfd_create: \(errnoName(-timer))")
            return outcome
        }
        defer { close(timer) }

        let intervalNs = 1e9 / Double(packetRate)
        let total = Int(Double(warmupNs + durationNs) / intervalNs)
        // A little ahead, so the receiver threads are waiting when the first packet is due.
        let t0 = MonotonicClock.nowNs() + 20_000_000
        let measureFrom = t0 + warmupNs
        let measureUntil = measureFrom + durationNs
        let shared = RTPLoadShared()
        let threadCount = max(1, min(receiverThreads, receivers.fds.count))
        let groups = (0..<threadCount).map { g in
            RTPReceiverGroup(fds: stride(from: g, to: receivers.fds.count, by: threadCount).map { receivers.fds[$0] },
                             packetBytes: packetBytes, measureFromNs: measureFrom, measureUntilNs: measureUntil)
        }
        let drain = drainNs, loadCPU = cpu
        let threads = groups.map { group in
            WorkerThread(name: "bench-rtp-recv") { group.run(shared: shared, cpu: loadCPU, drainNs: drain) }
        }

        CPUPinning.pinCurrentThread(cpu)
        let packet = UnsafeMutableRawPointer.allocate(byteCount: packetBytes, alignment: 16)
        defer { packet.deallocate() }
        var cpuAtStart: Double?
        var sendErrors = 0
        var firstSendError = ""
        func waitUntil(_ ns: UInt64) {
            while MonotonicClock.nowNs() < ns {
                _ = curing_timerfd_arm_at(timer, ns)
                var p = pollfd(fd: timer, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, -1)
                var expirations: UInt64 = 0
                _ = read(timer, &expirations, 8)
            }
        }
        for k in 0..<total {
            let due = t0 + UInt64(Double(k) * intervalNs)
            waitUntil(due)
            if cpuAtStart == nil && due >= measureFrom { cpuAtStart = relayPid.flatMap { ProcessUsage.cpuSeconds(pid: $0) } }
            RTPBenchPacket.write(into: packet, size: packetBytes, sequence: UInt64(k), intendedNs: due)
            if send(sender, packet, packetBytes, 0) != packetBytes {
                if sendErrors == 0 { firstSendError = errnoName(errno) }
                sendErrors += 1
            }
            shared.sent.store(k + 1, ordering: .relaxed)
        }
        waitUntil(measureUntil)
        if let a = cpuAtStart, let b = relayPid.flatMap({ ProcessUsage.cpuSeconds(pid: $0) }) { outcome.relayCPUSeconds = b - a }
        shared.senderEndNs.store(MonotonicClock.nowNs(), ordering: .relaxed)
        shared.senderDone.store(true, ordering: .releasing)
        for t in threads { t.join() }

        outcome.packetsSent = total
        outcome.expectedDatagrams = total * receivers.fds.count
        outcome.measuredSeconds = Double(durationNs) / 1e9
        var outOfOrder = 0, corrupt = 0
        for g in groups {
            outcome.receivedDatagrams += g.received.reduce(0, +)
            outcome.measuredDatagrams += g.measured
            outcome.histogram.merge(g.histogram)
            outOfOrder += g.outOfOrder
            corrupt += g.corrupt
            if let e = g.error { outcome.problems.append("receiver: \(e)") }
        }
        if sendErrors > 0 { outcome.problems.append("\(sendErrors) of \(total) sends to the relay failed (first: \(firstSendError))") }
        if outOfOrder > 0 { outcome.problems.append("\(outOfOrder) datagrams duplicated or out of order") }
        if corrupt > 0 { outcome.problems.append("\(corrupt) datagrams differ from what was sent") }
        let allowed = Int(Double(outcome.expectedDatagrams) * lossAllowance)
        if outcome.lostDatagrams > allowed {
            outcome.problems.append("\(outcome.lostDatagrams) of \(outcome.expectedDatagrams) datagrams lost (\(NumberText.fixed(outcome.lossPercent, 3)) %), more than the \(NumberText.fixed(lossAllowance * 100, 1)) % allowed")
        }
        if outcome.problems.isEmpty && outcome.measuredDatagrams == 0 { outcome.problems.append("no datagram in the measured window") }
        return outcome
    }
}
