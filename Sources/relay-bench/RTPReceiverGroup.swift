import CURing
import Glibc
import UringRelay

/// Some of the rtp scenario's receivers, served by one thread on the load CPU: epoll over
/// their sockets, recvmmsg into `Datagram`-layout buffers (the shim the epoll engine uses).
/// Every packet is checked: byte-identical to what the sender wrote for its sequence, and
/// each receiver's sequence only moving forward (a gap is loss, a step back is a duplicate
/// or a reorder). Latency is recorded for packets whose intended send time is in the measured
/// window. Written only by its thread; read by the owner after join().
final class RTPReceiverGroup: @unchecked Sendable {
    // @unchecked: single writer (the receiver thread), read by the owner after join(), which
    // orders the accesses.
    let fds: [Int32]
    let packetBytes: Int
    let measureFromNs: UInt64
    let measureUntilNs: UInt64

    /// Per receiver: the next sequence expected and the packets received in order.
    private(set) var nextSequence: [UInt64]
    private(set) var received: [Int]
    private(set) var histogram = LatencyHistogram()
    /// Packets sent inside the measured window and received (all receivers).
    private(set) var measured = 0
    private(set) var outOfOrder = 0
    private(set) var corrupt = 0
    private(set) var error: String?

    private static let batch = 64

    init(fds: [Int32], packetBytes: Int, measureFromNs: UInt64, measureUntilNs: UInt64) {
        self.fds = fds
        self.packetBytes = packetBytes
        self.measureFromNs = measureFromNs
        self.measureUntilNs = measureUntilNs
        nextSequence = [UInt64](repeating: 0, count: fds.count)
        received = [Int](repeating: 0, count: fds.count)
    }

    /// Receives until every receiver has every packet the sender sent, or `drainNs` after the
    /// sender finished (what is missing then is loss).
    func run(shared: RTPLoadShared, cpu: Int?, drainNs: UInt64) {
        CPUPinning.pinCurrentThread(cpu)
        let epfd = curing_epoll_create()
        guard epfd >= 0 else { error = "epoll_create1: \(errnoName(-epfd))"; return }
        defer { close(epfd) }
        for (i, fd) in fds.enumerated() {
            let r = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_ADD, fd, CURING_EPOLLIN, UInt64(i))
            if r < 0 { error = "epoll_ctl: \(errnoName(-r))"; return }
        }
        let bufferBytes = Datagram.payloadOffset + packetBytes + 64
        let memory = UnsafeMutableRawPointer.allocate(byteCount: bufferBytes * Self.batch, alignment: 64)
        defer { memory.deallocate() }
        let buffers = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: Self.batch)
        defer { buffers.deallocate() }
        for i in 0..<Self.batch { buffers[i] = memory + i * bufferBytes }
        let results = UnsafeMutablePointer<Int32>.allocate(capacity: Self.batch)
        defer { results.deallocate() }
        var eventData = [UInt64](repeating: 0, count: 256)
        var eventFlags = [UInt32](repeating: 0, count: 256)
        var complete = 0

        while true {
            if shared.senderDone.load(ordering: .acquiring) {
                let sent = UInt64(shared.sent.load(ordering: .relaxed))
                complete = nextSequence.filter { $0 >= sent }.count
                if complete == fds.count { return }
                if MonotonicClock.nowNs() > shared.senderEndNs.load(ordering: .relaxed) + drainNs { return }
            }
            let n = curing_epoll_wait(epfd, &eventData, &eventFlags, Int32(eventData.count), 20)
            if n < 0 { error = "epoll_wait: \(errnoName(-n))"; return }
            for e in 0..<Int(n) {
                let i = Int(eventData[e])
                while true {
                    let got = Int(curing_recvmmsg_layout(fds[i], buffers, UInt32(bufferBytes), UInt32(Datagram.nameCapacity),
                                                         UInt32(Self.batch), results))
                    if got < 0 {
                        if got != -Int(EAGAIN) { error = "recvmmsg: \(errnoName(Int32(-got)))"; return }
                        break
                    }
                    let nowNs = MonotonicClock.nowNs()
                    for k in 0..<got { take(buffers[k]!, used: Int(results[k]), receiver: i, nowNs: nowNs) }
                    if got < Self.batch { break }
                }
            }
        }
    }

    @inline(__always)
    private func take(_ buffer: UnsafeMutableRawPointer, used: Int, receiver i: Int, nowNs: UInt64) {
        guard let d = Datagram(buffer: buffer, used: used), !d.truncated,
              let (sequence, intendedNs) = RTPBenchPacket.check(d.payload, count: d.payloadLength, size: packetBytes) else {
            corrupt += 1
            return
        }
        guard sequence >= nextSequence[i] else {
            outOfOrder += 1
            return
        }
        nextSequence[i] = sequence + 1
        received[i] += 1
        if intendedNs >= measureFromNs && intendedNs < measureUntilNs {
            measured += 1
            histogram.record(nowNs > intendedNs ? nowNs - intendedNs : 0)
        }
    }
}
