import Glibc
import Synchronization

/// One worker of the TCP relay: its own engine, its own SO_REUSEPORT listener, its own
/// connection slots. Runs on one thread; shares only `RelayCounters` with other workers.
///
/// Per connection, each direction reads with a multishot receive into pool buffers, queues
/// them, and sends the queue to the other socket with one sendmsg (up to
/// `buffersPerDirection` iovecs) at a time. When a direction's queue is full the receive is
/// cancelled, and re-armed once the queue has drained to half: that is the backpressure
/// that bounds memory per connection. EOF is forwarded as shutdown(SHUT_WR) once the queue
/// is empty; a reset or error on either side aborts both with RST.
final class TCPRelayWorker<Engine: IOEngine>: RelayWorker {
    private enum Phase: UInt8 { case free, connecting, open, closing }

    private struct Slot {
        var generation: UInt32 = 0
        var phase: Phase = .free
        /// Completions still owed to this slot; it is recycled only at zero.
        var opsInFlight: Int32 = 0
        var abortive = false
        var deadlineMs: Int64 = 0
        var lastActivityMs: Int64 = 0
    }

    private let engine: Engine
    private let config: TCPRelayConfig
    private let counters: RelayCounters
    private let workerIndex: Int
    private var listener: ListenerAcceptor

    private let slotCapacity: Int
    private let slots: UnsafeMutablePointer<Slot>
    /// Two per slot: index slot*2 + side.
    private let sides: UnsafeMutablePointer<StreamSide>
    /// One msghdr per direction, and `buffersPerDirection` iovecs each: stable memory for sends.
    private let messages: UnsafeMutablePointer<msghdr>
    private let iovecs: UnsafeMutablePointer<iovec>
    private let links: BufferQueueLinks
    private var freeSlots: [UInt32]
    private var highestSlotUsed = 0
    private let maxIovecs: Int32

    private let upstreamAddress: UnsafeMutablePointer<sockaddr_storage>
    private let upstreamAddressLength: socklen_t

    private var nowMs: Int64 = MonotonicClock.nowMs()
    private static var tickMs: Int { 250 }
    private var tickArmed = false
    private var stopRequested: @Sendable () -> Bool
    private var drainDeadlineMs: Int64? = nil
    /// Refusals and connect failures are logged at most once a second each, with a count:
    /// a flood must not turn into a flood of log lines.
    private var refusalLog = RateLimitedLog(every: 1000)
    private var connectFailureLog = RateLimitedLog(every: 1000)
    private var bytesSinceFlush = 0

    init(engine: Engine, config: TCPRelayConfig, counters: RelayCounters, workerIndex: Int,
         listenerFd: Int32, stopRequested: @escaping @Sendable () -> Bool) {
        self.engine = engine
        self.config = config
        self.counters = counters
        self.workerIndex = workerIndex
        listener = ListenerAcceptor(fd: listenerFd, tag: RelayTag(slot: RelayTag.controlSlot, generation: 0, side: 0).raw)
        self.stopRequested = stopRequested
        slotCapacity = config.maxConnections
        slots = .allocate(capacity: slotCapacity)
        slots.initialize(repeating: Slot(), count: slotCapacity)
        sides = .allocate(capacity: slotCapacity * 2)
        sides.initialize(repeating: StreamSide(), count: slotCapacity * 2)
        maxIovecs = Int32(config.buffersPerDirection)
        messages = .allocate(capacity: slotCapacity * 2)
        messages.initialize(repeating: msghdr(), count: slotCapacity * 2)
        iovecs = .allocate(capacity: slotCapacity * 2 * config.buffersPerDirection)
        iovecs.initialize(repeating: iovec(), count: slotCapacity * 2 * config.buffersPerDirection)
        links = BufferQueueLinks(bufferCount: engine.buffers.count)
        freeSlots = (0..<UInt32(slotCapacity)).reversed()
        upstreamAddress = .allocate(capacity: 1)
        upstreamAddress.initialize(to: config.upstream.storage)
        upstreamAddressLength = config.upstream.length
    }

    deinit {
        slots.deallocate()
        sides.deallocate()
        messages.deallocate()
        iovecs.deallocate()
        links.deallocate()
        upstreamAddress.deallocate()
    }

    // MARK: - Loop

    /// Runs until stopped and drained. Returns normally; errors from the engine are fatal
    /// to this worker and thrown.
    func run() throws(SystemError) {
        var batch: [Completion] = []
        batch.reserveCapacity(1024)
        listener.arm(engine)
        armTick()
        while true {
            try engine.wait(into: &batch, timeoutMs: Self.tickMs)
            nowMs = MonotonicClock.nowMs()
            for c in batch { handle(c) }
            if bytesSinceFlush > 0 {
                counters.bytesRelayedTotal.add(bytesSinceFlush, ordering: .relaxed)
                bytesSinceFlush = 0
            }
            if drainDeadlineMs == nil && stopRequested() { beginDrain() }
            if drainDeadlineMs != nil && !listener.isOpen && liveSlotCount() == 0 { break }
        }
        // The last closes were only queued: issue them before the engine goes away, or the
        // fds would outlive the relay.
        try engine.wait(into: &batch, timeoutMs: 0)
    }

    private func liveSlotCount() -> Int { slotCapacity - freeSlots.count }

    private func armTick() {
        tickArmed = true
        engine.timeout(milliseconds: Self.tickMs, tag: RelayTag(slot: RelayTag.controlSlot, generation: 0, side: 1).raw)
    }

    private func beginDrain() {
        drainDeadlineMs = nowMs + Int64(config.drainTimeoutMs)
        listener.stop(engine)
    }

    // MARK: - Dispatch

    @inline(__always)
    private func handle(_ c: Completion) {
        if c.kind == .wake { return }  // the loop checks stopRequested after each batch
        let tag = RelayTag(c.tag)
        if tag.slot == RelayTag.controlSlot {
            switch c.kind {
            case .accept: handleAccept(c)
            case .timeout: handleTick()
            default: break
            }
            return
        }
        let slotIndex = Int(tag.slot)
        guard slotIndex < slotCapacity, slots[slotIndex].generation & RelayTag.generationMask == tag.generation,
              slots[slotIndex].phase != .free else {
            // A completion for an earlier use of this slot: cannot happen while opsInFlight is
            // kept right, but a buffer must never leak.
            if let id = c.bufferID { engine.releaseBuffer(id) }
            return
        }
        switch c.kind {
        case .receive: handleReceive(c, slot: slotIndex, side: Int(tag.side))
        case .send: handleSend(c, slot: slotIndex, direction: Int(tag.side))
        case .connect: handleConnect(c, slot: slotIndex)
        case .shutdown: handleShutdown(c, slot: slotIndex, direction: Int(tag.side))
        default: break
        }
    }

    @inline(__always)
    private func tag(_ slot: Int, _ side: Int) -> UInt64 {
        RelayTag(slot: UInt32(slot), generation: slots[slot].generation, side: UInt8(side)).raw
    }

    @inline(__always)
    private func side(_ slot: Int, _ side: Int) -> UnsafeMutablePointer<StreamSide> {
        sides + (slot &* 2 &+ side)
    }

    // MARK: - Accept and connect

    private func handleAccept(_ c: Completion) {
        let workerIndex = self.workerIndex
        guard let fd = listener.completed(c, draining: drainDeadlineMs != nil, engine: engine, onError: { e in
            Log.warning("worker \(workerIndex): accept: \(errnoName(e)); retrying")
        }) else { return }
        guard counters.admitConnection(limit: config.maxConnections) else { return refuse(fd) }
        guard let slotIndex = freeSlots.popLast() else {
            counters.revokeAdmission()
            return refuse(fd)
        }
        let s = Int(slotIndex)
        highestSlotUsed = max(highestSlotUsed, s)
        slots[s].generation = (slots[s].generation &+ 1) & RelayTag.generationMask
        slots[s].phase = .connecting
        slots[s].opsInFlight = 0
        slots[s].abortive = false
        slots[s].deadlineMs = nowMs + Int64(config.connectTimeoutMs)
        slots[s].lastActivityMs = nowMs
        side(s, 0).pointee = StreamSide()
        side(s, 1).pointee = StreamSide()
        side(s, 0).pointee.fd = fd
        try? Socket.setNoDelay(fd)
        let upstreamFd: Int32
        do {
            upstreamFd = try Socket.makeStreamSocket(family: config.upstream.family)
        } catch {
            Log.warning("worker \(workerIndex): cannot open a socket to the upstream: \(error); closing client")
            abort(s)
            return
        }
        side(s, 1).pointee.fd = upstreamFd
        slots[s].opsInFlight += 1
        upstreamAddress.withMemoryRebound(to: sockaddr.self, capacity: 1) { addr in
            engine.connect(fd: upstreamFd, address: addr, length: upstreamAddressLength, tag: tag(s, 1))
        }
    }

    private func refuse(_ fd: Int32) {
        // A reset tells the client at once that it was turned away (haproxy's maxconn queues
        // instead; a relay in front of mail or video prefers a fast, visible refusal).
        try? Socket.setLingerZero(fd)
        engine.close(fd: fd, tag: 0)
        let workerIndex = self.workerIndex, maxConnections = config.maxConnections
        refusalLog.note(nowMs: nowMs) { count in
            "worker \(workerIndex): refused \(count) connection(s): --max-conns \(maxConnections) reached"
        }
    }

    private func handleConnect(_ c: Completion, slot s: Int) {
        slots[s].opsInFlight -= 1
        if slots[s].phase == .closing {
            finishIfQuiet(s)
            return
        }
        guard c.result == 0 else {
            counters.upstreamConnectFailuresTotal.add(1, ordering: .relaxed)
            let cause = errnoName(-c.result)
            let workerIndex = self.workerIndex, upstream = config.upstream
            connectFailureLog.note(nowMs: nowMs) { count in
                "worker \(workerIndex): upstream \(upstream): \(count) connect(s) failed (last: \(cause)); clients reset"
            }
            abort(s)
            return
        }
        slots[s].phase = .open
        slots[s].lastActivityMs = nowMs
        armReceive(s, 0)
        armReceive(s, 1)
    }

    // MARK: - Data

    @inline(__always)
    private func armReceive(_ s: Int, _ sideIndex: Int) {
        let p = side(s, sideIndex)
        p.pointee.receiving = true
        p.pointee.cancelling = false
        slots[s].opsInFlight += 1
        // The receive may bring in at most what the queue has room for; where the engine can
        // enforce that, a stalled peer costs exactly `buffersPerDirection` buffers.
        let room = max(1, Int(maxIovecs - p.pointee.queueCount)) * engine.buffers.bufferSize
        engine.receiveMultishot(fd: p.pointee.fd, tag: tag(s, sideIndex), maxBytes: room)
    }

    private func handleReceive(_ c: Completion, slot s: Int, side sideIndex: Int) {
        let p = side(s, sideIndex)
        if let id = c.bufferID {
            if c.result > 0 && slots[s].phase == .open {
                links.append(id, bytes: c.result, to: p)
                slots[s].lastActivityMs = nowMs
                if p.pointee.queueCount >= maxIovecs && p.pointee.receiving && !p.pointee.cancelling && c.hasMore {
                    // Backpressure: the other side is not taking bytes as fast as they come.
                    p.pointee.cancelling = true
                    engine.cancelReceive(fd: p.pointee.fd, tag: tag(s, sideIndex))
                }
                trySend(s, direction: sideIndex)
            } else {
                engine.releaseBuffer(id)
            }
        }
        guard !c.hasMore else { return }
        p.pointee.receiving = false
        p.pointee.cancelling = false
        slots[s].opsInFlight -= 1
        if slots[s].phase == .closing {
            finishIfQuiet(s)
            return
        }
        if c.result == 0 {
            p.pointee.sawEOF = true
            forwardEOFIfFlushed(s, direction: sideIndex)
        } else if c.result < 0 && c.result != -ECANCELED {
            // ECONNRESET and friends: the peer is gone; so is the connection.
            abort(s)
        } else if p.pointee.queueCount <= maxIovecs / 2 {
            armReceive(s, sideIndex)
        }
        // Otherwise handleSend re-arms once the queue has drained.
    }

    @inline(__always)
    private func trySend(_ s: Int, direction d: Int) {
        let p = side(s, d)
        guard !p.pointee.sending, p.pointee.queueCount > 0 else { return }
        let base = (s &* 2 &+ d) &* Int(maxIovecs)
        var id = p.pointee.queueHead
        var n = 0
        var total = 0
        let limit = min(Int(p.pointee.queueCount), Int(maxIovecs))
        let pool = engine.buffers
        while n < limit {
            let off = Int(links.offset[Int(id)])
            let len = Int(links.length[Int(id)])
            iovecs[base + n] = iovec(iov_base: pool.pointer(id) + off, iov_len: len)
            total += len
            n += 1
            id = links.next[Int(id)]
        }
        let m = messages + (s &* 2 &+ d)
        m.pointee = msghdr()
        m.pointee.msg_iov = iovecs + base
        m.pointee.msg_iovlen = n
        p.pointee.sending = true
        slots[s].opsInFlight += 1
        engine.send(fd: side(s, 1 - d).pointee.fd, message: m, totalBytes: total, tag: tag(s, d))
    }

    private func handleSend(_ c: Completion, slot s: Int, direction d: Int) {
        let p = side(s, d)
        p.pointee.sending = false
        slots[s].opsInFlight -= 1
        if slots[s].phase == .closing {
            finishIfQuiet(s)
            return
        }
        guard c.result > 0 else {
            // EPIPE, ECONNRESET: the receiving side is gone.
            abort(s)
            return
        }
        bytesSinceFlush &+= Int(c.result)
        slots[s].lastActivityMs = nowMs
        var sent = UInt32(c.result)
        while sent > 0 && p.pointee.queueCount > 0 {
            let id = p.pointee.queueHead
            let len = links.length[Int(id)]
            if sent >= len {
                sent -= len
                _ = links.popHead(of: p)
                engine.releaseBuffer(id)
            } else {
                // Short send: the rest of this buffer goes out with the next sendmsg.
                links.offset[Int(id)] += sent
                links.length[Int(id)] = len - sent
                sent = 0
            }
        }
        if p.pointee.queueCount > 0 {
            trySend(s, direction: d)
        } else if p.pointee.sawEOF {
            forwardEOFIfFlushed(s, direction: d)
        }
        if !p.pointee.receiving && !p.pointee.sawEOF && p.pointee.queueCount <= maxIovecs / 2 {
            armReceive(s, d)
        }
    }

    // MARK: - Half-close and close

    private func forwardEOFIfFlushed(_ s: Int, direction d: Int) {
        let p = side(s, d)
        guard p.pointee.sawEOF, p.pointee.queueCount == 0, !p.pointee.sending, !p.pointee.forwardedEOF else { return }
        p.pointee.forwardedEOF = true
        p.pointee.shutdownInFlight = true
        slots[s].opsInFlight += 1
        engine.shutdown(fd: side(s, 1 - d).pointee.fd, how: Int32(SHUT_WR), tag: tag(s, d))
    }

    private func handleShutdown(_ c: Completion, slot s: Int, direction d: Int) {
        side(s, d).pointee.shutdownInFlight = false
        slots[s].opsInFlight -= 1
        if slots[s].phase == .closing {
            finishIfQuiet(s)
            return
        }
        if c.result < 0 && c.result != -ENOTCONN {
            abort(s)
            return
        }
        // Both directions ended cleanly: the connection is done.
        if side(s, 0).pointee.forwardedEOF && side(s, 1).pointee.forwardedEOF
            && !side(s, 0).pointee.shutdownInFlight && !side(s, 1).pointee.shutdownInFlight {
            close(s, abortive: false)
        }
    }

    /// Ends the connection with a reset on both sockets.
    private func abort(_ s: Int) { close(s, abortive: true) }

    private func close(_ s: Int, abortive: Bool) {
        guard slots[s].phase != .closing && slots[s].phase != .free else { return }
        slots[s].phase = .closing
        slots[s].abortive = abortive
        // Every operation still in flight on either socket finishes (ECANCELED) before the
        // slot, its buffers and its fds are let go.
        for i in 0..<2 where side(s, i).pointee.fd >= 0 && slots[s].opsInFlight > 0 {
            engine.cancelAll(fd: side(s, i).pointee.fd)
        }
        finishIfQuiet(s)
    }

    private func finishIfQuiet(_ s: Int) {
        guard slots[s].phase == .closing, slots[s].opsInFlight == 0 else { return }
        for i in 0..<2 {
            let p = side(s, i)
            while p.pointee.queueCount > 0 { engine.releaseBuffer(links.popHead(of: p)) }
            if p.pointee.fd >= 0 {
                if slots[s].abortive { try? Socket.setLingerZero(p.pointee.fd) }
                engine.close(fd: p.pointee.fd, tag: 0)
                p.pointee.fd = -1
            }
        }
        slots[s].phase = .free
        freeSlots.append(UInt32(s))
        counters.activeConnections.subtract(1, ordering: .relaxed)
        counters.connectionsClosedTotal.add(1, ordering: .relaxed)
    }

    // MARK: - Timers

    private func handleTick() {
        armTick()
        refusalLog.flush(nowMs: nowMs)
        connectFailureLog.flush(nowMs: nowMs)
        if drainDeadlineMs == nil { listener.arm(engine) }
        if drainDeadlineMs == nil && stopRequested() { beginDrain() }
        let drainExpired = drainDeadlineMs.map { nowMs >= $0 } ?? false
        guard liveSlotCount() > 0 else { return }
        for s in 0...highestSlotUsed {
            switch slots[s].phase {
            case .free, .closing:
                continue
            case .connecting:
                if nowMs >= slots[s].deadlineMs || drainExpired {
                    counters.upstreamConnectFailuresTotal.add(1, ordering: .relaxed)
                    let timeout = config.connectTimeoutMs
                    let workerIndex = self.workerIndex, upstream = config.upstream
                    connectFailureLog.note(nowMs: nowMs) { count in
                        "worker \(workerIndex): upstream \(upstream): \(count) connect(s) failed (last: timed out after \(timeout) ms); clients reset"
                    }
                    abort(s)
                }
            case .open:
                if drainExpired || nowMs - slots[s].lastActivityMs >= Int64(config.idleTimeoutMs) {
                    abort(s)
                }
            }
        }
    }
}
