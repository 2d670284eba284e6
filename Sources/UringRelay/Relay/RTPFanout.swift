import Glibc
import Synchronization

/// What other threads ask of a running fan-out (through `RTPRelay`).
enum RTPCommand: Sendable {
    case add(RTPDestinationID, SocketAddress)
    case remove(RTPDestinationID)
}

/// The state `RTPRelay` (any thread) shares with its worker: commands in, stats out.
final class RTPRelayShared: Sendable {
    let commands = Mutex<[RTPCommand]>([])
    let commandsPending = Atomic<Bool>(false)
    let stats = Mutex<RTPRelayStats>(RTPRelayStats())
    let stopRequested = Atomic<Bool>(false)
}

/// Tags of the fan-out's own operations (sends are tagged with their slot index).
private enum Tag {
    static let rtpReceive: UInt64 = 1
    static let rtcpReceive: UInt64 = 2
    static let tick: UInt64 = 3
}

/// What a queued datagram is and where it goes.
private enum Kind: UInt8 {
    case rtp, rtcp, toSource
}

/// The packet fan-out core: one RTP stream (and its RTCP) received once, sent to many.
///
/// Each datagram is received once into a pool buffer (multishot receive over the engine's
/// buffer ring); every destination's send references that same buffer through one shared
/// iovec, and a per-buffer reference count gives the buffer back when the last send
/// completes. Each destination has its own connected socket pair (`RTPDestinationSockets`),
/// so its sends are plain sends and an ICMP port unreachable comes back to it alone. All
/// sends a batch of completions produces are queued before the next `wait`, so io_uring
/// submits them with one io_uring_enter (epoll: one sendmmsg per destination socket).
///
/// Fixed capacity, nothing unbounded: datagrams in flight are bounded by the pool; sends in
/// flight by `maxSendsInFlight` slots (a datagram waits in a FIFO, itself bounded by the pool,
/// until there is a slot for every destination); when the pool is dry the engine stops
/// receiving and the kernel drops at the socket. A destination that cannot keep up fails its
/// own sends at once (EAGAIN, ENOBUFS, ECONNREFUSED: sends never wait for room); they are
/// counted against it and nobody else notices.
///
/// Destinations come and go while packets are in flight: a removed destination takes no new
/// sends, and its slot (and the address its in-flight sends point at) is reused only once
/// those sends have completed.
final class RTPFanout<Engine: IOEngine> {
    private struct DestinationSlot {
        var id: UInt64 = 0
        var used = false
        var active = false
        var inFlight: Int32 = 0
        var activeIndex: Int32 = -1
        /// Its connected sockets (RTPDestinationSockets), -1 when the slot is free.
        var rtpFd: Int32 = -1
        var rtcpFd: Int32 = -1
        var rtpSent = 0
        var rtpBytes = 0
        var rtcpSent = 0
        var droppedFull = 0
        var droppedRefused = 0
        var droppedOther = 0
        var receiverReports = 0
        var fractionLost: UInt8 = 0
        var cumulativeLost: Int32 = 0
        var jitter: UInt32 = 0
    }

    private let engine: Engine
    private let config: RTPRelayConfig
    private let shared: RTPRelayShared
    private var rtpFd: Int32
    private var rtcpFd: Int32

    // Destinations: slots with stable addresses.
    private let destinationCapacity: Int
    private let destinations: UnsafeMutablePointer<DestinationSlot>
    private var destinationAddresses: [SocketAddress?]
    private var activeList: [Int32] = []
    private var freeDestinations: [Int32]
    private var slotByID: [UInt64: Int32] = [:]
    private var slotByRTCPAddress: [SocketAddress: Int32] = [:]

    // Send slots.
    private let sendCapacity: Int
    private let messages: UnsafeMutablePointer<msghdr>
    private let sendBuffer: UnsafeMutablePointer<UInt16>
    private let sendDestination: UnsafeMutablePointer<Int32>
    private let sendKind: UnsafeMutablePointer<Kind>
    private let freeSends: UnsafeMutablePointer<UInt32>
    private var freeSendCount: Int

    // Per pool buffer: the iovec every send of it shares, and its reference count.
    private let iovecs: UnsafeMutablePointer<iovec>
    private let references: UnsafeMutablePointer<Int32>

    // Datagrams waiting for send slots, in arrival order (bounded by the pool).
    private let pendingBuffer: UnsafeMutablePointer<UInt16>
    private let pendingKind: UnsafeMutablePointer<Kind>
    private let pendingCapacity: Int
    private var pendingHead = 0
    private var pendingCount = 0

    // The source's RTCP address (where --rtcp-to-source sends receiver reports).
    private let sourceRTCPAddress: UnsafeMutablePointer<sockaddr_storage>
    private var sourceRTCPLength: socklen_t = 0
    private var sourceRTCP: SocketAddress? = nil

    // RTP sources by SSRC.
    static var maxTrackedSources: Int { 16 }
    private var sources: [RTPStreamStats] = []
    private var lastSourceIndex = -1

    private var stats = RTPRelayStats()
    private var toSourceSent = 0

    private var rtpArmed = false
    private var rtcpArmed = false
    private var rearmDue = false
    private var stopping = false
    private var nowMs = MonotonicClock.nowMs()
    /// When the current batch was reaped: the arrival time of its datagrams, for jitter.
    private var batchArrivalNs: Int64 = 0
    private static var tickMs: Int { 200 }
    private var nextStatsLogMs: Int64
    private var lastLogged = (packets: 0, ms: Int64(0))
    private var receiveErrorLog = RateLimitedLog(every: 1000)

    init(engine: Engine, config: RTPRelayConfig, shared: RTPRelayShared, rtpFd: Int32, rtcpFd: Int32) {
        self.engine = engine
        self.config = config
        self.shared = shared
        self.rtpFd = rtpFd
        self.rtcpFd = rtcpFd
        destinationCapacity = config.maxDestinations
        destinations = .allocate(capacity: destinationCapacity)
        destinations.initialize(repeating: DestinationSlot(), count: destinationCapacity)
        destinationAddresses = Array(repeating: nil, count: destinationCapacity)
        freeDestinations = (0..<Int32(destinationCapacity)).reversed()
        activeList.reserveCapacity(destinationCapacity)

        sendCapacity = config.maxSendsInFlight
        messages = .allocate(capacity: sendCapacity)
        messages.initialize(repeating: msghdr(), count: sendCapacity)
        sendBuffer = .allocate(capacity: sendCapacity)
        sendBuffer.initialize(repeating: 0, count: sendCapacity)
        sendDestination = .allocate(capacity: sendCapacity)
        sendDestination.initialize(repeating: -1, count: sendCapacity)
        sendKind = .allocate(capacity: sendCapacity)
        sendKind.initialize(repeating: .rtp, count: sendCapacity)
        freeSends = .allocate(capacity: sendCapacity)
        for i in 0..<sendCapacity { freeSends[i] = UInt32(sendCapacity - 1 - i) }
        freeSendCount = sendCapacity

        let bufferCount = engine.buffers.count
        iovecs = .allocate(capacity: bufferCount)
        iovecs.initialize(repeating: iovec(), count: bufferCount)
        references = .allocate(capacity: bufferCount)
        references.initialize(repeating: 0, count: bufferCount)
        pendingCapacity = bufferCount
        pendingBuffer = .allocate(capacity: bufferCount)
        pendingBuffer.initialize(repeating: 0, count: bufferCount)
        pendingKind = .allocate(capacity: bufferCount)
        pendingKind.initialize(repeating: .rtp, count: bufferCount)
        sourceRTCPAddress = .allocate(capacity: 1)
        sourceRTCPAddress.initialize(to: sockaddr_storage())
        nextStatsLogMs = nowMs + Int64(config.statsIntervalMs)
        lastLogged.ms = nowMs
    }

    deinit {
        destinations.deallocate()
        messages.deallocate()
        sendBuffer.deallocate()
        sendDestination.deallocate()
        sendKind.deallocate()
        freeSends.deallocate()
        iovecs.deallocate()
        references.deallocate()
        pendingBuffer.deallocate()
        pendingKind.deallocate()
        sourceRTCPAddress.deallocate()
    }

    // MARK: - Loop

    func run() throws(SystemError) {
        var batch: [Completion] = []
        batch.reserveCapacity(4096)
        applyCommands()
        armReceives()
        engine.timeout(milliseconds: Self.tickMs, tag: Tag.tick)
        while true {
            try engine.wait(into: &batch, timeoutMs: -1)
            nowMs = MonotonicClock.nowMs()
            batchArrivalNs = Int64(MonotonicClock.nowNs())
            for c in batch { handle(c) }
            drainPending()
            if shared.commandsPending.load(ordering: .acquiring) { applyCommands() }
            if !stopping && shared.stopRequested.load(ordering: .acquiring) { beginStop() }
            if rearmDue && !stopping { armReceives() }
            if stopping && !rtpArmed && !rtcpArmed && freeSendCount == sendCapacity {
                break
            }
        }
        publishStats()
        if config.statsIntervalMs > 0 { Log.info(statsLine()) }
        engine.close(fd: rtpFd, tag: 0)
        engine.close(fd: rtcpFd, tag: 0)
        // No send is in flight any more (the loop waited for every slot), so the destinations'
        // sockets can go.
        for slot in 0..<destinationCapacity where destinations[slot].rtpFd >= 0 { closeSockets(Int32(slot)) }
        try engine.wait(into: &batch, timeoutMs: 0)
    }

    private func armReceives() {
        rearmDue = false
        if !rtpArmed {
            rtpArmed = true
            engine.receiveDatagramsMultishot(fd: rtpFd, tag: Tag.rtpReceive)
        }
        if !rtcpArmed {
            rtcpArmed = true
            engine.receiveDatagramsMultishot(fd: rtcpFd, tag: Tag.rtcpReceive)
        }
    }

    private func beginStop() {
        stopping = true
        if rtpArmed { engine.cancelReceive(fd: rtpFd, tag: Tag.rtpReceive) }
        if rtcpArmed { engine.cancelReceive(fd: rtcpFd, tag: Tag.rtcpReceive) }
        // Datagrams still waiting for send slots are dropped: stopping does not wait for them.
        while pendingCount > 0 {
            let (id, _) = popPending()
            engine.releaseBuffer(id)
        }
    }

    @inline(__always)
    private func handle(_ c: Completion) {
        switch c.kind {
        case .send: handleSend(c)
        case .receive:
            let isRTP = c.tag == Tag.rtpReceive
            if !c.hasMore {
                if isRTP { rtpArmed = false } else { rtcpArmed = false }
                if c.result < 0 && c.result != -ECANCELED {
                    let name = errnoName(-c.result)
                    receiveErrorLog.note(nowMs: nowMs) { n in "rtp relay: receive: \(name) (\(n)×); re-armed at the next tick" }
                } else if c.result >= 0 {
                    rearmDue = true
                }
            }
            guard c.result > 0, let id = c.bufferID else { return }
            if isRTP { receiveRTP(c, id) } else { receiveRTCP(c, id) }
        case .timeout:
            handleTick()
        default:
            break
        }
    }

    private func handleTick() {
        engine.timeout(milliseconds: Self.tickMs, tag: Tag.tick)
        if !stopping && (!rtpArmed || !rtcpArmed) { rearmDue = true }
        receiveErrorLog.flush(nowMs: nowMs)
        publishStats()
        if config.statsIntervalMs > 0 && nowMs >= nextStatsLogMs {
            nextStatsLogMs = nowMs + Int64(config.statsIntervalMs)
            Log.info(statsLine())
        }
    }

    // MARK: - Receive

    @inline(__always)
    private func receiveRTP(_ c: Completion, _ id: UInt16) {
        guard let d = Datagram(buffer: engine.buffers.pointer(id), used: Int(c.result)), !d.truncated else {
            stats.nonRTP += 1
            engine.releaseBuffer(id)
            return
        }
        let bytes = UnsafeRawBufferPointer(start: d.payload, count: d.payloadLength)
        guard case .success(let header) = RTPHeader.parse(bytes) else {
            stats.nonRTP += 1
            engine.releaseBuffer(id)
            return
        }
        stats.rtpPackets += 1
        stats.rtpBytes += d.payloadLength
        recordSource(header, bytes: d.payloadLength)
        iovecs[Int(id)] = iovec(iov_base: d.payload, iov_len: d.payloadLength)
        pushPending(id, .rtp)
    }

    @inline(__always)
    private func recordSource(_ h: RTPHeader, bytes: Int) {
        var i = lastSourceIndex
        if i < 0 || sources[i].ssrc != h.ssrc {
            i = sources.firstIndex { $0.ssrc == h.ssrc } ?? -1
            if i < 0 {
                guard sources.count < Self.maxTrackedSources else {
                    stats.untrackedSourcePackets += 1
                    return
                }
                sources.append(RTPStreamStats(ssrc: h.ssrc, clockRate: config.clockRate))
                i = sources.count - 1
            }
            lastSourceIndex = i
        }
        sources[i].record(sequence: h.sequenceNumber, timestamp: h.timestamp, bytes: bytes,
                          arrivalNs: batchArrivalNs)
    }

    private func receiveRTCP(_ c: Completion, _ id: UInt16) {
        guard let d = Datagram(buffer: engine.buffers.pointer(id), used: Int(c.result)), !d.truncated else {
            stats.nonRTCP += 1
            engine.releaseBuffer(id)
            return
        }
        guard case .success(let packets) = RTCPCompound.parse(UnsafeRawBufferPointer(start: d.payload, count: d.payloadLength)) else {
            stats.nonRTCP += 1
            engine.releaseBuffer(id)
            return
        }
        stats.rtcpPackets += 1
        iovecs[Int(id)] = iovec(iov_base: d.payload, iov_len: d.payloadLength)
        let from = d.sourceAddress
        if let from, let slot = slotByRTCPAddress[from] {
            // A receiver's report: read and counted, passed on only if asked.
            let dst = destinations + Int(slot)
            for p in packets where p.type == .receiverReport {
                dst.pointee.receiverReports += 1
                if let b = p.reportBlocks.last {
                    dst.pointee.fractionLost = b.fractionLost
                    dst.pointee.cumulativeLost = b.cumulativeLost
                    dst.pointee.jitter = b.jitter
                }
            }
            if config.rtcpToSource && sourceRTCPLength > 0 {
                pushPending(id, .toSource)
            } else {
                engine.releaseBuffer(id)
            }
            return
        }
        // Anything else is the source's: its sender reports go to every receiver.
        if let from, from != sourceRTCP {
            sourceRTCP = from
            sourceRTCPAddress.pointee = from.storage
            sourceRTCPLength = from.length
        }
        stats.senderReports += packets.filter { $0.type == .senderReport }.count
        pushPending(id, .rtcp)
    }

    // MARK: - Fan-out

    @inline(__always)
    private func pushPending(_ id: UInt16, _ kind: Kind) {
        // Cannot overflow: one entry per pool buffer at most.
        let i = (pendingHead + pendingCount) % pendingCapacity
        pendingBuffer[i] = id
        pendingKind[i] = kind
        pendingCount += 1
    }

    @inline(__always)
    private func popPending() -> (UInt16, Kind) {
        let r = (pendingBuffer[pendingHead], pendingKind[pendingHead])
        pendingHead = (pendingHead + 1) % pendingCapacity
        pendingCount -= 1
        return r
    }

    /// Fans out waiting datagrams while there is a send slot for each of their sends.
    private func drainPending() {
        while pendingCount > 0 {
            let kind = pendingKind[pendingHead]
            let needed = kind == .toSource ? 1 : activeList.count
            if needed > freeSendCount { return }
            let (id, _) = popPending()
            fanOut(id, kind)
        }
    }

    @inline(__always)
    private func fanOut(_ id: UInt16, _ kind: Kind) {
        let iov = iovecs + Int(id)
        var count: Int32 = 0
        if kind == .toSource {
            let slot = takeSendSlot()
            let m = messages + Int(slot)
            m.pointee.msg_name = UnsafeMutableRawPointer(sourceRTCPAddress)
            m.pointee.msg_namelen = sourceRTCPLength
            m.pointee.msg_iov = iov
            m.pointee.msg_iovlen = 1
            sendBuffer[Int(slot)] = id
            sendDestination[Int(slot)] = -1
            sendKind[Int(slot)] = kind
            engine.sendDatagram(fd: rtcpFd, message: m, tag: UInt64(slot))
            count = 1
        } else {
            let isRTP = kind == .rtp
            for d in activeList {
                let slot = takeSendSlot()
                let m = messages + Int(slot)
                let dst = destinations + Int(d)
                let fd = isRTP ? dst.pointee.rtpFd : dst.pointee.rtcpFd
                // Connected socket: no name, a plain send.
                m.pointee.msg_name = nil
                m.pointee.msg_namelen = 0
                m.pointee.msg_iov = iov
                m.pointee.msg_iovlen = 1
                sendBuffer[Int(slot)] = id
                sendDestination[Int(slot)] = d
                sendKind[Int(slot)] = kind
                dst.pointee.inFlight &+= 1
                engine.sendDatagram(fd: fd, message: m, tag: UInt64(slot))
                count &+= 1
            }
        }
        if count == 0 {
            engine.releaseBuffer(id)
        } else {
            references[Int(id)] = count
        }
    }

    @inline(__always)
    private func takeSendSlot() -> UInt32 {
        freeSendCount -= 1
        return freeSends[freeSendCount]
    }

    @inline(__always)
    private func handleSend(_ c: Completion) {
        let slot = Int(c.tag)
        guard slot < sendCapacity else { return }
        freeSends[freeSendCount] = UInt32(slot)
        freeSendCount += 1
        let id = sendBuffer[slot]
        let d = sendDestination[slot]
        let kind = sendKind[slot]
        if d >= 0 {
            let dst = destinations + Int(d)
            dst.pointee.inFlight -= 1
            if c.result >= 0 {
                if kind == .rtp {
                    dst.pointee.rtpSent += 1
                    dst.pointee.rtpBytes += Int(c.result)
                } else {
                    dst.pointee.rtcpSent += 1
                }
            } else {
                switch -c.result {
                case EAGAIN, ENOBUFS, ENOMEM: dst.pointee.droppedFull += 1
                case ECONNREFUSED: dst.pointee.droppedRefused += 1
                default: dst.pointee.droppedOther += 1
                }
            }
            if !dst.pointee.active && dst.pointee.used && dst.pointee.inFlight == 0 { recycleDestination(d) }
        } else if c.result >= 0 {
            toSourceSent += 1
        }
        references[Int(id)] -= 1
        if references[Int(id)] == 0 { engine.releaseBuffer(id) }
    }

    // MARK: - Destinations

    private func applyCommands() {
        shared.commandsPending.store(false, ordering: .releasing)
        let commands = shared.commands.withLock { c -> [RTPCommand] in
            let all = c
            c.removeAll()
            return all
        }
        for command in commands {
            switch command {
            case .add(let id, let address): addDestination(id: id, address: address)
            case .remove(let id): removeDestination(id: id)
            }
        }
        if !commands.isEmpty { publishStats() }
    }

    /// Adds a destination at once (on the worker thread), opening its socket pair here so that
    /// sockets exist only for slots (2 fds per slot at most, which `RTPRelay` checked against
    /// RLIMIT_NOFILE). `RTPRelay` has checked the family, the port and the count.
    func addDestination(id: RTPDestinationID, address: SocketAddress) {
        guard let slot = freeDestinations.popLast() else {
            stats.destinationSetupFailures += 1
            Log.warning("rtp relay: no room for destination \(address) (\(destinationCapacity) in use)")
            return
        }
        let sockets: RTPDestinationSockets
        do { sockets = try RTPDestinationSockets.open(listen: config.listen, destination: address) } catch {
            freeDestinations.append(slot)
            stats.destinationSetupFailures += 1
            Log.warning("rtp relay: destination \(address) not added: \(error)")
            return
        }
        let dst = destinations + Int(slot)
        dst.pointee = DestinationSlot()
        dst.pointee.id = id.raw
        dst.pointee.used = true
        dst.pointee.active = true
        dst.pointee.activeIndex = Int32(activeList.count)
        dst.pointee.rtpFd = sockets.rtp
        dst.pointee.rtcpFd = sockets.rtcp
        activeList.append(slot)
        let rtcp = address.withPort(address.port + 1)
        destinationAddresses[Int(slot)] = address
        slotByID[id.raw] = slot
        slotByRTCPAddress[rtcp] = slot
    }

    /// Stops sending to a destination at once; its slot is reused after its in-flight sends.
    func removeDestination(id: RTPDestinationID) {
        guard let slot = slotByID.removeValue(forKey: id.raw) else { return }
        let dst = destinations + Int(slot)
        dst.pointee.active = false
        let i = Int(dst.pointee.activeIndex)
        let last = activeList.removeLast()
        if i < activeList.count {
            activeList[i] = last
            destinations[Int(last)].activeIndex = Int32(i)
        }
        dst.pointee.activeIndex = -1
        if let a = destinationAddresses[Int(slot)] {
            // The same receiver may be added twice: its reports then count for the newest.
            let rtcp = a.withPort(a.port + 1)
            if slotByRTCPAddress[rtcp] == slot {
                slotByRTCPAddress[rtcp] = activeList.first { destinationAddresses[Int($0)] == a }
            }
        }
        if dst.pointee.inFlight == 0 { recycleDestination(slot) }
    }

    private func recycleDestination(_ slot: Int32) {
        closeSockets(slot)
        destinations[Int(slot)] = DestinationSlot()
        destinationAddresses[Int(slot)] = nil
        freeDestinations.append(slot)
    }

    /// Only once the destination has no send in flight: a closed fd number can be reused at
    /// once, and a send still queued on it would go to the new socket.
    private func closeSockets(_ slot: Int32) {
        let dst = destinations + Int(slot)
        engine.close(fd: dst.pointee.rtpFd, tag: 0)
        engine.close(fd: dst.pointee.rtcpFd, tag: 0)
        dst.pointee.rtpFd = -1
        dst.pointee.rtcpFd = -1
    }

    // MARK: - Stats

    private func publishStats() {
        var s = stats
        s.rtcpToSource = toSourceSent
        s.sources = sources.map { src in
            RTPRelayStats.Source(ssrc: src.ssrc, packets: src.packets, bytes: src.bytes, expected: src.expected,
                                 lost: src.lost, reordered: src.reordered, duplicates: src.duplicates,
                                 jitter: src.jitter, jitterMs: src.jitterSeconds * 1000)
        }
        s.destinations = activeList.map { slot in
            let d = destinations[Int(slot)]
            return RTPRelayStats.Destination(
                id: RTPDestinationID(raw: d.id), address: destinationAddresses[Int(slot)]!,
                rtpSent: d.rtpSent, rtpBytes: d.rtpBytes, rtcpSent: d.rtcpSent, droppedFull: d.droppedFull,
                droppedRefused: d.droppedRefused, droppedOther: d.droppedOther, receiverReports: d.receiverReports,
                reportedFractionLost: d.fractionLost, reportedCumulativeLost: d.cumulativeLost, reportedJitter: d.jitter)
        }
        s.destinations.sort { $0.id.raw < $1.id.raw }
        s.engine = engine.counters
        shared.stats.withLock { $0 = s }
    }

    /// The periodic log line (one line, whatever the number of destinations).
    func statsLine() -> String {
        let s = shared.stats.withLock { $0 }
        let seconds = max(0.001, Double(nowMs - lastLogged.ms) / 1000)
        let rate = Double(s.rtpPackets - lastLogged.packets) / seconds
        lastLogged = (s.rtpPackets, nowMs)
        var line = "rtp stats: in \(s.rtpPackets) packets \(s.rtpBytes) B (\(Int(rate.rounded())) pkt/s), non-rtp \(s.nonRTP)"
        if let top = s.sources.max(by: { $0.packets < $1.packets }) {
            let hex = String(top.ssrc, radix: 16)
            line += "; ssrc \(hex) lost \(top.lost) reordered \(top.reordered) jitter \(String(format1: top.jitterMs)) ms"
            if s.sources.count > 1 { line += " (+\(s.sources.count - 1) sources)" }
        }
        let sent = s.destinations.reduce(0) { $0 + $1.rtpSent }
        let full = s.destinations.reduce(0) { $0 + $1.droppedFull }
        let refused = s.destinations.reduce(0) { $0 + $1.droppedRefused }
        let other = s.destinations.reduce(0) { $0 + $1.droppedOther }
        let rr = s.destinations.reduce(0) { $0 + $1.receiverReports }
        line += "; rtcp \(s.rtcpPackets) (sr \(s.senderReports), rr \(rr), non-rtcp \(s.nonRTCP))"
        line += "; \(s.destinations.count) destinations: sent \(sent), dropped \(full + refused + other)"
        line += " (full \(full), refused \(refused), other \(other))"
        line += "; engine \(s.engine.syscalls) syscalls, \(s.engine.operations) operations"
        return line
    }
}

private extension String {
    /// One decimal, without Foundation.
    init(format1 v: Double) {
        let tenths = Int((v * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}
