import Glibc
import CURing
import UringRelay

/// Bulk workload: `connections` blocking sender threads (pinned to `cpu`) each stream
/// StreamPattern bytes in `writeBytes` writes (64 KiB unless the plan says otherwise) for `durationNs`, then half-close and wait for the
/// sink's close. Throughput is bytes the sink accepted over the time until the last stream's
/// EOF reached the sink; every byte is verified by the sink.
struct BulkLoad {
    static let defaultWriteSize = 64 * 1024

    var relayPort: UInt16
    var relayPid: pid_t
    var connections: Int
    var durationNs: UInt64
    var run: UInt16
    var cpu: Int?
    var pattern: StreamPattern
    var peer: BenchPeer
    /// Bytes per send(), at most StreamPattern.maxRun.
    var writeBytes = BulkLoad.defaultWriteSize

    func execute() -> BulkOutcome {
        var outcome = BulkOutcome(connections: connections)
        var slots: [BulkSenderSlot] = []
        for i in 0..<connections {
            do {
                let fd = try LoopbackClient.connect(port: relayPort)
                let hello = PeerHello(mode: .sink, run: run, connection: UInt32(i)).bytes
                if !hello.withUnsafeBytes({ LoopbackClient.writeAll(fd, $0.baseAddress!, $0.count) }) {
                    outcome.problems.append("conn \(i): hello: \(errnoName(errno))")
                }
                LoopbackClient.setReceiveTimeout(fd, seconds: 15)
                slots.append(BulkSenderSlot(fd: fd, id: UInt32(i)))
            } catch {
                outcome.problems.append("conn \(i): \(error)")
            }
        }
        defer { for s in slots { close(s.fd) } }
        guard outcome.valid else { return outcome }

        let cpuStart = ProcessUsage.cpuSeconds(pid: relayPid)
        let t0 = MonotonicClock.nowNs()
        let end = t0 + durationNs
        let pattern = self.pattern
        let cpu = self.cpu
        let writeBytes = self.writeBytes
        let threads = slots.map { slot in
            WorkerThread(name: "bench-bulk") {
                CPUPinning.pinCurrentThread(cpu)
                Self.stream(slot, until: end, pattern: pattern, writeSize: writeBytes)
            }
        }
        for t in threads { t.join() }
        let cpuEnd = ProcessUsage.cpuSeconds(pid: relayPid)
        if let a = cpuStart, let b = cpuEnd { outcome.relayCPUSeconds = b - a }

        var lastEnd = t0
        for slot in slots {
            outcome.bytesSent += slot.bytesSent
            if let e = slot.error { outcome.problems.append("conn \(slot.id): \(e)") }
            guard let r = peer.takeRecord(SinkRecordKey(run: run, connection: slot.id)) else {
                outcome.problems.append("conn \(slot.id): sink has no record of the stream")
                continue
            }
            outcome.bytesAtSink += r.bytes
            lastEnd = max(lastEnd, r.endNs)
            if let m = r.firstMismatch { outcome.problems.append("conn \(slot.id): byte \(m) differs") }
            if let e = r.error { outcome.problems.append("conn \(slot.id): sink \(e)") }
            if !r.cleanEOF { outcome.problems.append("conn \(slot.id): no clean EOF at sink") }
            if r.bytes != slot.bytesSent {
                outcome.problems.append("conn \(slot.id): sent \(slot.bytesSent) bytes, sink got \(r.bytes)")
            }
        }
        outcome.seconds = Double(lastEnd - t0) / 1e9
        return outcome
    }

    private static func stream(_ slot: BulkSenderSlot, until end: UInt64, pattern: StreamPattern, writeSize: Int) {
        while MonotonicClock.nowNs() < end {
            let p = pattern.pointer(connection: slot.id, position: slot.bytesSent)
            var off = 0
            while off < writeSize {
                let r = send(slot.fd, p + off, writeSize - off, CURING_MSG_NOSIGNAL)
                if r > 0 { off += r; continue }
                if r < 0 && errno == EINTR { continue }
                slot.bytesSent += UInt64(off)
                slot.error = "send: \(errnoName(errno))"
                return
            }
            slot.bytesSent += UInt64(writeSize)
        }
        if shutdown(slot.fd, Int32(SHUT_WR)) != 0 {
            slot.error = "shutdown: \(errnoName(errno))"
            return
        }
        // The sink closes after it has read EOF and stored its record; wait for that close.
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let r = scratch.withUnsafeMutableBytes { recv(slot.fd, $0.baseAddress, $0.count, 0) }
            if r == 0 { return }
            if r > 0 { slot.error = "unexpected \(r) bytes from upstream"; return }
            if errno == EINTR { continue }
            slot.error = errno == EAGAIN ? "no close from upstream within 15 s" : "recv: \(errnoName(errno))"
            return
        }
    }
}
