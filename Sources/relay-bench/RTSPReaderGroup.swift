import CURing
import Glibc
import UringRelay

/// Some of the rtsp scenario's readers, served by one thread on the load CPU with epoll, as
/// RTPReceiverGroup serves the rtp receivers. Reads are batched so the readers are not the
/// bottleneck: a TCP reader's socket is read 512 KiB at a time (many `$` frames per read), a
/// UDP reader's with recvmmsg, 64 datagrams a call. Readers join while it runs (`add`, from
/// the coordinator thread: epoll_ctl is safe beside a thread waiting on the same epoll).
/// Written only by its thread; read by the owner after join().
final class RTSPReaderGroup: @unchecked Sendable {
    // @unchecked: the thread owns `histogram` and the buffers; `readers` is fixed at init and
    // each reader is handed over as RTSPBenchReader describes.
    let readers: [RTSPBenchReader]
    private(set) var histogram = LatencyHistogram()
    private(set) var error: String?
    private let epfd: Int32

    private static let batch = 64
    private static let streamBufferBytes = 512 << 10
    /// Longest a `$` frame can be: its header and a 16-bit length of payload.
    private static let maxFrameBytes = 4 + 0xFFFF
    private static let datagramBytes = Datagram.payloadOffset + 2048

    init(readers: [RTSPBenchReader]) throws(SystemError) {
        self.readers = readers
        epfd = curing_epoll_create()
        if epfd < 0 { throw SystemError(operation: "epoll_create1", errno: -epfd) }
    }

    deinit { close(epfd) }

    /// Hands `readers[i]`, set up and playing, to the group thread.
    func add(_ i: Int) -> Bool {
        let r = readers[i]
        r.handedOver.store(true, ordering: .releasing)
        let (fd, events) = r.transport == .tcp ? (r.fd, CURING_EPOLLIN | CURING_EPOLLRDHUP) : (r.rtpFD, CURING_EPOLLIN)
        let rc = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_ADD, fd, events, UInt64(i))
        if rc < 0 { r.end("epoll_ctl: \(errnoName(-rc))") }
        return rc == 0
    }

    /// Reads until the publisher is done and every reader has what it sent (or has ended),
    /// or `drainNs` after the publisher finished (what is missing then is loss).
    func run(shared: RTSPLoadShared, cpu: Int?, drainNs: UInt64) {
        CPUPinning.pinCurrentThread(cpu)
        let stream = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.streamBufferBytes + Self.maxFrameBytes, alignment: 64)
        defer { stream.deallocate() }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: Self.datagramBytes * Self.batch, alignment: 64)
        defer { memory.deallocate() }
        let buffers = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: Self.batch)
        defer { buffers.deallocate() }
        for i in 0..<Self.batch { buffers[i] = memory + i * Self.datagramBytes }
        let results = UnsafeMutablePointer<Int32>.allocate(capacity: Self.batch)
        defer { results.deallocate() }
        var eventData = [UInt64](repeating: 0, count: 256)
        var eventFlags = [UInt32](repeating: 0, count: 256)

        while true {
            if shared.publisherDone.load(ordering: .acquiring) {
                let last = shared.sent.load(ordering: .acquiring) - 1
                let done = readers.allSatisfy { !$0.handedOver.load(ordering: .acquiring) || $0.ended != nil || $0.lastIndex >= last }
                if done || MonotonicClock.nowNs() > shared.publisherEndNs.load(ordering: .relaxed) + drainNs { return }
            }
            let n = curing_epoll_wait(epfd, &eventData, &eventFlags, Int32(eventData.count), 10)
            if n < 0 {
                if -n == EINTR { continue }
                error = "epoll_wait: \(errnoName(-n))"
                return
            }
            for e in 0..<Int(n) {
                let r = readers[Int(eventData[e])]
                guard r.handedOver.load(ordering: .acquiring), r.ended == nil else { continue }
                if r.transport == .tcp {
                    readStream(r, stream, shared)
                } else {
                    readDatagrams(r, buffers, results, shared)
                }
                if r.ended != nil {
                    _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_DEL, r.transport == .tcp ? r.fd : r.rtpFD, 0, 0)
                }
            }
        }
    }

    /// Bounded reads per wake-up so one busy reader cannot starve the others.
    private func readStream(_ r: RTSPBenchReader, _ buffer: UnsafeMutableRawBufferPointer, _ shared: RTSPLoadShared) {
        for _ in 0..<8 {
            let kept = r.carry.count
            if kept > 0 { r.carry.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: kept) } }
            let n = recv(r.fd, buffer.baseAddress! + kept, Self.streamBufferBytes, Int32(MSG_DONTWAIT))
            if n > 0 {
                let now = MonotonicClock.nowNs()
                let all = UnsafeRawBufferPointer(rebasing: buffer[0..<(kept + n)])
                let used = r.feed(all, nowNs: now, shared: shared, histogram: &histogram)
                r.carry = used < all.count ? Array(all[used...]) : []
                if n < Self.streamBufferBytes { return }
                continue
            }
            if n == 0 { r.end("the relay closed the connection"); return }
            let e = errno
            if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return }
            r.end("recv: \(errnoName(e))")
            return
        }
    }

    private func readDatagrams(_ r: RTSPBenchReader, _ buffers: UnsafeMutablePointer<UnsafeMutableRawPointer?>,
                               _ results: UnsafeMutablePointer<Int32>, _ shared: RTSPLoadShared) {
        for _ in 0..<16 {
            let got = Int(curing_recvmmsg_layout(r.rtpFD, buffers, UInt32(Self.datagramBytes), UInt32(Datagram.nameCapacity),
                                                 UInt32(Self.batch), results))
            if got < 0 {
                if got != -Int(EAGAIN) && got != -Int(EINTR) { r.end("recvmmsg: \(errnoName(Int32(-got)))") }
                return
            }
            let now = MonotonicClock.nowNs()
            for k in 0..<got {
                guard let d = Datagram(buffer: buffers[k]!, used: Int(results[k])), !d.truncated else {
                    r.take(UnsafeRawBufferPointer(start: nil, count: 0), nowNs: now, shared: shared, histogram: &histogram)
                    continue
                }
                r.take(UnsafeRawBufferPointer(start: d.payload, count: d.payloadLength), nowNs: now, shared: shared, histogram: &histogram)
            }
            if got < Self.batch { return }
        }
    }
}
