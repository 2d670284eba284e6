import Glibc

/// The RTSP relay's one worker: the listener, every client and source connection, the shared
/// UDP pair, the paths and their fan-out, all on one engine.
///
/// A packet from a source (interleaved in its RTSP connection, or a UDP datagram) is copied
/// once into the packet arena, rewritten in place for continuity (same SSRC, continuous
/// sequence numbers and timestamps across source sessions), and then referenced by every
/// reader: TCP readers queue it with their own interleaved prefix, UDP readers get a
/// `sendDatagram` of the same bytes. Request handling is in RTSPRelayWorker+Requests.swift,
/// sources in +Sources.swift, media in +Media.swift.
final class RTSPRelayWorker<Engine: IOEngine>: RelayWorker {
    let engine: Engine
    let config: RTSPRelayConfig
    let counters: RelayCounters
    let stopRequested: @Sendable () -> Bool
    var listener: ListenerAcceptor
    var draining = false
    var drainDeadlineMs: Int64 = 0
    var nowMs: Int64 = MonotonicClock.nowMs()

    let arena: PacketArena
    let datagramSlots: RTSPDatagramSlots
    let parser: RTSPStreamParser

    var connections: [RTSPConnection?]
    var generations: [UInt32]
    var freeSlots: [Int]
    var liveConnections = 0

    var paths: [RTSPPath] = []
    var pathByName: [String: Int] = [:]
    var sessions: [String: RTSPSession] = [:]
    var readersTotal = 0
    /// Open client connections by peer IP, for --max-conns-per-ip.
    var connectionsPerIP: [String: Int] = [:]

    // The shared UDP pair for readers and publishers over UDP.
    let udp: RTSPUDPPair
    var udpRTPArmed = false
    var udpRTCPArmed = false
    /// UDP peers by source address: reader RTCP (liveness) and publishers' RTP/RTCP.
    var udpPeers: [SocketAddress: RTSPChannelUse] = [:]
    let sourceAddressScratch: UnsafeMutablePointer<sockaddr_storage>

    /// Our SSRC in receiver reports.
    let reporterSSRC = UInt32.random(in: 1...UInt32.max)
    let serverName = "uring-relay"
    var log = RateLimitedLog(every: 10_000)
    var stats = RTSPRelayStats()

    static var tickMs: Int { 100 }
    static var clientSide: UInt8 { 0 }
    static var acceptTag: UInt64 { RelayTag(slot: RelayTag.controlSlot, generation: 0, side: 1).raw }
    static var tickTag: UInt64 { RelayTag(slot: RelayTag.controlSlot, generation: 0, side: 2).raw }
    static var udpRTPTag: UInt64 { RelayTag(slot: RelayTag.controlSlot, generation: 0, side: 3).raw }
    static var udpRTCPTag: UInt64 { RelayTag(slot: RelayTag.controlSlot, generation: 0, side: 4).raw }
    /// UDP sends to readers (slot = send slot); sides 2...9 of a connection slot are a UDP
    /// source's own receives (see sourceUDPTag).
    static var datagramSide: UInt8 { 0xF0 }
    /// A client's unparsed input: one message or one interleaved frame (64 KiB + 4) at most.
    static var inputCapacity: Int { 72 << 10 }

    init(engine: Engine, config: RTSPRelayConfig, counters: RelayCounters, listenerFd: Int32, udp: RTSPUDPPair,
         stopRequested: @escaping @Sendable () -> Bool) {
        self.engine = engine
        self.config = config
        self.counters = counters
        listener = ListenerAcceptor(fd: listenerFd, tag: Self.acceptTag)
        self.udp = udp
        self.stopRequested = stopRequested
        arena = PacketArena(byteCapacity: config.packetArenaBytes, packetCapacity: 1 << 17)
        // Sends in flight, and a keyframe burst to every UDP reader waiting behind them.
        datagramSlots = RTSPDatagramSlots(capacity: 8192, backlogCapacity: 1 << 17)
        parser = RTSPStreamParser(maxMessageBytes: config.maxMessageBytes)
        let slots = config.maxConnections + config.paths.count
        connections = Array(repeating: nil, count: slots)
        generations = Array(repeating: 0, count: slots)
        freeSlots = Array((0..<slots).reversed())
        sourceAddressScratch = .allocate(capacity: 1)
        for (i, spec) in config.paths.enumerated() {
            paths.append(RTSPPath(spec: spec, index: i))
            pathByName[spec.name] = i
        }
    }

    deinit { sourceAddressScratch.deallocate() }

    func run() throws(SystemError) {
        var batch: [Completion] = []
        batch.reserveCapacity(1024)
        listener.arm(engine)
        engine.timeout(milliseconds: Self.tickMs, tag: Self.tickTag)
        armUDP()
        for p in paths where p.alwaysOn { startSource(p) }
        while true {
            try engine.wait(into: &batch, timeoutMs: Self.tickMs)
            nowMs = MonotonicClock.nowMs()
            for c in batch { handle(c) }
            if !draining && stopRequested() { beginDrain() }
            if draining && liveConnections == 0 && !listener.isOpen && datagramSlots.inUse == 0 { break }
        }
        try engine.wait(into: &batch, timeoutMs: 0)
        udp.close()
        for p in paths { for t in p.tracks { t.clearCache(arena) } }
    }

    // MARK: - Dispatch

    private func handle(_ c: Completion) {
        guard let kind = c.kind, kind != .wake, kind != .close, kind != .cancel else { return }
        let tag = RelayTag(c.tag)
        if tag.slot == RelayTag.controlSlot {
            switch (kind, tag.side) {
            case (.accept, _): handleAccept(c)
            case (.timeout, _): handleTick()
            case (.receive, 3): udpReceived(c, isRTCP: false)
            case (.receive, 4): udpReceived(c, isRTCP: true)
            default: if let id = c.bufferID { engine.releaseBuffer(id) }
            }
            return
        }
        if tag.side == Self.datagramSide {
            datagramSlots.complete(Int(tag.slot), arena: arena, issue: issueDatagram)
            if c.result < 0 { stats.udpSendErrors += 1 }
            return
        }
        let index = Int(tag.slot)
        guard index < connections.count, let conn = connections[index], conn.generation == tag.generation else {
            if let id = c.bufferID { engine.releaseBuffer(id) }
            return
        }
        if (2...9).contains(tag.side) && kind == .receive { return sourceDatagram(c, index, conn, side: tag.side) }
        switch kind {
        case .connect: sourceConnected(c, index, conn)
        case .receive: received(c, index, conn)
        case .send: sent(c, index, conn)
        default: break
        }
    }

    func tag(_ index: Int, _ conn: RTSPConnection) -> UInt64 {
        RelayTag(slot: UInt32(index), generation: conn.generation, side: Self.clientSide).raw
    }

    // MARK: - Accept

    private func handleAccept(_ c: Completion) {
        guard let fd = listener.completed(c, draining: draining, engine: engine, onError: { e in
            Log.warning("rtsp: accept: \(errnoName(e)); retrying")
        }) else { return }
        guard counters.admitConnection(limit: config.maxConnections) else { return refuse(fd) }
        guard let peer = try? Socket.peerAddress(of: fd), connectionsPerIP[peer.ipString, default: 0] < config.maxConnectionsPerIP,
              let conn = openConnection(fd: fd, role: .client, peer: peer) else {
            counters.revokeAdmission()
            return refuse(fd)
        }
        connectionsPerIP[peer.ipString, default: 0] += 1
        try? Socket.setNoDelay(fd)
        armReceive(conn.1, conn.0)
    }

    private func refuse(_ fd: Int32) {
        // No RTSP request to answer yet: a reset tells the client at once.
        try? Socket.setLingerZero(fd)
        engine.close(fd: fd, tag: 0)
        let limit = config.maxConnections
        let perIP = config.maxConnectionsPerIP
        log.note(nowMs: nowMs) { n in "rtsp: refused \(n) connection(s): --max-conns \(limit) or --max-conns-per-ip \(perIP) reached" }
    }

    /// A slot and a connection object for `fd`; nil when no slot is free.
    func openConnection(fd: Int32, role: RTSPConnectionRole, peer: SocketAddress) -> (RTSPConnection, Int)? {
        guard let index = freeSlots.popLast() else { return nil }
        generations[index] = (generations[index] &+ 1) & RelayTag.generationMask
        let output = RTSPOutputQueue(entryCapacity: config.readerQueuePackets, maxQueuedBytes: config.readerQueueBytes)
        let conn = RTSPConnection(fd: fd, generation: generations[index], role: role, peer: peer,
                                  inputCapacity: Self.inputCapacity, output: output, nowMs: nowMs)
        connections[index] = conn
        liveConnections += 1
        return (conn, index)
    }

    // MARK: - Receive

    func armReceive(_ index: Int, _ conn: RTSPConnection) {
        guard !conn.receiving, !conn.closing, !conn.closeAfterFlush else { return }
        conn.receiving = true
        conn.opsInFlight += 1
        engine.receiveMultishot(fd: conn.fd, tag: tag(index, conn), maxBytes: 0)
    }

    private func received(_ c: Completion, _ index: Int, _ conn: RTSPConnection) {
        if let id = c.bufferID {
            if c.result > 0 && !conn.closing && !conn.closeAfterFlush {
                conn.lastActivityMs = nowMs
                let bytes = UnsafeRawBufferPointer(start: engine.buffers.pointer(id), count: Int(c.result))
                if !take(bytes, index, conn) {
                    engine.releaseBuffer(id)
                    guard !conn.isSource else { return closeConnection(index, conn, abortive: true, reason: "input backlog full") }
                    // A request larger than we take: say so, then hang up.
                    respond(RTSPMessage(response: 400, reason: "Bad Request (request too large)",
                                        headers: [("Connection", "close"), ("Server", serverName)]), index, conn)
                    conn.closeAfterFlush = true
                    conn.inputCount = 0
                    return flush(index, conn)
                }
            }
            engine.releaseBuffer(id)
        }
        if !c.hasMore {
            conn.receiving = false
            conn.opsInFlight -= 1
            if conn.closing { return finishIfQuiet(index, conn) }
            if c.result == 0 {
                return closeConnection(index, conn, abortive: false, reason: "closed by peer")
            } else if c.result < 0 && c.result != -ECANCELED && c.result != -ENOBUFS {
                return closeConnection(index, conn, abortive: true, reason: errnoName(-c.result))
            }
            armReceive(index, conn)
        }
    }

    /// Parses what arrived: straight from the pool buffer when nothing is pending, else after
    /// the backlog. False when the backlog would overflow.
    private func take(_ bytes: UnsafeRawBufferPointer, _ index: Int, _ conn: RTSPConnection) -> Bool {
        if conn.inputCount == 0 && conn.parkedRequest == nil {
            let used = parse(bytes, index, conn)
            guard !conn.closing else { return true }
            let rest = bytes.count - used
            guard rest <= conn.inputCapacity else { return false }
            if rest > 0 { conn.input.copyMemory(from: bytes.baseAddress! + used, byteCount: rest) }
            conn.inputCount = rest
            notePartial(conn, progressed: used > 0)
            return true
        }
        guard conn.inputCount + bytes.count <= conn.inputCapacity else { return false }
        (conn.input + conn.inputCount).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        conn.inputCount += bytes.count
        pumpBacklog(index, conn)
        return true
    }

    func pumpBacklog(_ index: Int, _ conn: RTSPConnection) {
        guard conn.inputCount > 0, conn.parkedRequest == nil, !conn.closing else { return }
        let used = parse(UnsafeRawBufferPointer(start: conn.input, count: conn.inputCount), index, conn)
        guard !conn.closing else { return }
        conn.consumeInput(used)
        notePartial(conn, progressed: used > 0)
    }

    /// Starts or ends the clock on an incomplete request (a reader's or publisher's media
    /// frames complete quickly, so only a stalled message runs it out).
    private func notePartial(_ conn: RTSPConnection, progressed: Bool) {
        if conn.inputCount == 0 || conn.parkedRequest != nil {
            conn.partialSinceMs = nil
        } else if progressed || conn.partialSinceMs == nil {
            conn.partialSinceMs = nowMs
        }
    }

    /// Handles every complete item at the front of `bytes`; returns the bytes consumed.
    private func parse(_ bytes: UnsafeRawBufferPointer, _ index: Int, _ conn: RTSPConnection) -> Int {
        var offset = 0
        while offset < bytes.count && !conn.closing && conn.parkedRequest == nil {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let (item, consumed) = parser.next(rest)
            switch item {
            case .needMore:
                return offset
            case .invalid(let why):
                if !conn.isSource {
                    let status = why.hasPrefix(RTSPStreamParser.unsupportedVersion) ? 505 : 400
                    respond(RTSPMessage(response: status, headers: [("Connection", "close"), ("Server", serverName)]), index, conn)
                    conn.closeAfterFlush = true
                    flush(index, conn)
                } else {
                    sourceFailed(index, conn, "unparsable data from the source: \(why)", retry: true)
                }
                return bytes.count
            case .message(let m):
                offset += consumed
                conn.lastRequestMs = nowMs
                if conn.isSource { sourceMessage(m, index, conn) } else { request(m, index, conn) }
            case .interleaved(let channel, let range):
                let payload = UnsafeRawBufferPointer(rebasing: rest[range])
                offset += consumed
                interleaved(channel: channel, payload, index, conn)
            }
        }
        return offset
    }

    // MARK: - Send

    /// Queues a reply (written into the arena like a packet).
    func respond(_ m: RTSPMessage, _ index: Int, _ conn: RTSPConnection) {
        let bytes = m.serialized()
        guard let ref = allocatePacket(bytes.count) else {
            return closeConnection(index, conn, abortive: true, reason: "packet store full")
        }
        bytes.withUnsafeBytes { arena.bytes(ref).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        let queued = conn.output.enqueue(ref, arena: arena, channel: nil)
        arena.release(ref)
        guard queued else { return closeConnection(index, conn, abortive: true, reason: "output queue full") }
        flush(index, conn)
    }

    func flush(_ index: Int, _ conn: RTSPConnection) {
        guard !conn.closing, conn.connected || !conn.isSource else { return }
        if let (message, bytes) = conn.output.messageForSend(arena: arena) {
            conn.opsInFlight += 1
            engine.send(fd: conn.fd, message: message, totalBytes: bytes, tag: tag(index, conn))
        } else if conn.closeAfterFlush && conn.output.isEmpty && !conn.output.sendInFlight {
            closeConnection(index, conn, abortive: false, reason: "closed after reply")
        }
    }

    private func sent(_ c: Completion, _ index: Int, _ conn: RTSPConnection) {
        conn.opsInFlight -= 1
        conn.output.completeSend(sentBytes: max(0, Int(c.result)), arena: arena)
        if conn.closing { return finishIfQuiet(index, conn) }
        guard c.result > 0 else {
            return closeConnection(index, conn, abortive: true, reason: "send: \(errnoName(-c.result))")
        }
        flush(index, conn)
    }

    // MARK: - Close

    func closeConnection(_ index: Int, _ conn: RTSPConnection, abortive: Bool, reason: String) {
        guard !conn.closing else { return }
        conn.closing = true
        if abortive { try? Socket.setLingerZero(conn.fd) }
        for id in conn.sessionIDs { if let s = sessions[id] { endSession(s, reason: reason) } }
        conn.sessionIDs.removeAll()
        if conn.parkedRequest != nil {
            conn.parkedRequest = nil
            for p in paths where !p.parked.isEmpty {
                p.parked.removeAll { $0.slot == index && $0.generation == conn.generation }
                if !p.isWanted && p.unusedSinceMs == nil { p.unusedSinceMs = nowMs }
            }
        }
        if case .source(let p) = conn.role { sourceConnectionClosed(paths[p], reason: reason) }
        if conn.opsInFlight > 0 {
            engine.cancelAll(fd: conn.fd)
            for pair in conn.sourceUDP { engine.cancelAll(fd: pair.rtpFd); engine.cancelAll(fd: pair.rtcpFd) }
        }
        finishIfQuiet(index, conn)
    }

    func finishIfQuiet(_ index: Int, _ conn: RTSPConnection) {
        guard conn.closing, conn.opsInFlight == 0, connections[index] === conn else { return }
        conn.output.removeAll(arena: arena)
        engine.close(fd: conn.fd, tag: 0)
        for pair in conn.sourceUDP { engine.close(fd: pair.rtpFd, tag: 0); engine.close(fd: pair.rtcpFd, tag: 0) }
        conn.sourceUDP.removeAll()
        connections[index] = nil
        freeSlots.append(index)
        liveConnections -= 1
        if case .client = conn.role {
            let ip = conn.peer.ipString
            if let n = connectionsPerIP[ip] { connectionsPerIP[ip] = n > 1 ? n - 1 : nil }
            counters.activeConnections.subtract(1, ordering: .relaxed)
            counters.connectionsClosedTotal.add(1, ordering: .relaxed)
        }
    }

    func connection(of s: RTSPSession) -> (RTSPConnection, Int)? {
        guard s.connectionSlot < connections.count, let c = connections[s.connectionSlot],
              c.generation == s.connectionGeneration, !c.closing else { return nil }
        return (c, s.connectionSlot)
    }

    // MARK: - Drain and timers

    private func beginDrain() {
        draining = true
        drainDeadlineMs = nowMs + Int64(config.drainTimeoutMs)
        listener.stop(engine)
        // Sources get a TEARDOWN, clients are closed once their queued bytes are out.
        for (i, c) in connections.enumerated() {
            guard let c, !c.closing else { continue }
            if c.isSource {
                if var client = c.sourceClient, let m = client.teardown() {
                    c.sourceClient = client
                    respond(m, i, c)
                }
            }
            c.closeAfterFlush = true
            flush(i, c)
        }
        datagramSlots.dropBacklog(arena: arena)
        closeUDP()
    }

    private func handleTick() {
        engine.timeout(milliseconds: Self.tickMs, tag: Self.tickTag)
        log.flush(nowMs: nowMs)
        if !draining { listener.arm(engine) }
        if draining {
            if nowMs >= drainDeadlineMs {
                for (i, c) in connections.enumerated() { if let c { closeConnection(i, c, abortive: true, reason: "drain timeout") } }
            }
            return
        }
        armUDP()
        reapSessions()
        for p in paths { tickPath(p) }
        for (i, c) in connections.enumerated() {
            guard let c, !c.closing else { continue }
            if c.isSource {
                tickSource(i, c)
            } else if let since = c.partialSinceMs, nowMs - since > Int64(config.requestTimeoutMs), !c.closeAfterFlush {
                // Half a request for that long: a stalled or hostile client holding a slot.
                respond(RTSPMessage(response: 408, reason: "Request Timeout", headers: [("Connection", "close"), ("Server", serverName)]), i, c)
                c.closeAfterFlush = true
                c.inputCount = 0
                c.partialSinceMs = nil
                flush(i, c)
            } else if c.sessionIDs.isEmpty && c.parkedRequest == nil && nowMs - c.lastRequestMs > Int64(config.idleTimeoutMs) {
                closeConnection(i, c, abortive: false, reason: "idle without a session")
            }
        }
        publishStats()
    }

    /// Sessions whose reader sent neither requests nor RTCP for the session timeout.
    private func reapSessions() {
        let limit = Int64(config.sessionTimeoutMs)
        for s in sessions.values where nowMs - s.lastActivityMs > limit {
            // A TCP session lives as long as its connection keeps being read from: some
            // players (and every publisher) send media or RTCP but no requests.
            if let (c, _) = connection(of: s), s.usesInterleaved, nowMs - c.lastActivityMs <= limit { continue }
            Log.info("rtsp: session \(s.id) on \(paths[s.path].spec.name) timed out (no request or RTCP for \(limit) ms)")
            endSession(s, reason: "timeout")
            if let (c, i) = connection(of: s) {
                c.sessionIDs.removeAll { $0 == s.id }
                if s.usesInterleaved { closeConnection(i, c, abortive: false, reason: "session timeout") }
            }
        }
    }

    private func publishStats() {
        counters.readersActive.store(readersTotal, ordering: .relaxed)
    }
}

/// Counters of the RTSP worker that are not the shared `RelayCounters`.
struct RTSPRelayStats {
    var packetsIn = 0
    var packetsDropped = 0
    var udpSendErrors = 0
    var udpSendsSkipped = 0
    var readersDropped = 0
}
