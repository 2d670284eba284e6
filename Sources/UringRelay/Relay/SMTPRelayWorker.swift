import Glibc

/// One worker of the SMTP relay: its own engine, listener, client sessions and upstream
/// connections. The protocol lives in two pure state machines — `SMTPServerSession` towards
/// the client, `SMTPUpstreamClient` towards the smarthost — and this class only moves bytes
/// between them and the sockets, runs the timers and enforces the memory bounds:
///
/// - client input is fed to the session in slices no larger than what the output side can
///   take (the session copies body bytes into the upstream queue), and reading from the
///   client pauses while `inputBacklogMax` unconsumed bytes wait (pipelined commands behind a
///   command that waits for the upstream, or a body faster than the upstream takes it);
/// - each socket has one fixed `ByteRing` for outgoing bytes and at most one send in flight.
///
/// Upstream connections outlive client sessions: when a client quits, its connection is
/// parked (RSET first if a transaction was left open) and the next message reuses it.
final class SMTPRelayWorker<Engine: IOEngine>: RelayWorker {
    static var inputBacklogMax: Int { 64 << 10 }
    static var clientOutCapacity: Int { 16 << 10 }
    static var upstreamOutCapacity: Int { 64 << 10 }
    /// Command input fed to the session at a time: replies to it always fit the overflow
    /// bound (a 1 KiB slice of the shortest commands yields well under 64 KiB of replies).
    static var commandSliceBytes: Int { 1024 }
    static var tickMs: Int { 250 }

    let engine: Engine
    let config: SMTPRelayConfig
    let counters: RelayCounters
    let workerIndex: Int
    var listener: ListenerAcceptor
    let stopRequested: @Sendable () -> Bool
    var drainDeadlineMs: Int64?
    var nowMs = MonotonicClock.nowMs()

    var clients: [SMTPClientConnection?]
    var clientGenerations: [UInt32]
    var freeClientSlots: [Int]
    var upstreams: [SMTPUpstreamConnection?]
    var upstreamGenerations: [UInt32]
    var freeUpstreamSlots: [Int]
    /// Idle upstream connections, most recently parked last.
    var parked: [Int] = []
    var liveUpstreams = 0
    var sessionsStarted = 0

    let upstreamAddress: UnsafeMutablePointer<sockaddr_storage>
    /// The 421 sent to clients beyond --max-conns, and the msghdr all those sends share.
    let busyReply: UnsafeMutableRawBufferPointer
    let busyIov: UnsafeMutablePointer<iovec>
    let busyMessage: UnsafeMutablePointer<msghdr>

    /// Queue mode: the spool (nil in cut-through mode).
    let spool: SMTPSpoolShared?
    let spoolWork: SMTPSpoolWork?
    private let spoolOpenError: SystemError?

    var refusalLog = RateLimitedLog(every: 1000)
    var upstreamFailureLog = RateLimitedLog(every: 1000)

    static var acceptTag: UInt64 { RelayTag(slot: RelayTag.controlSlot, generation: 0, side: 0).raw }
    static var tickTag: UInt64 { RelayTag(slot: RelayTag.controlSlot, generation: 0, side: 1).raw }
    /// A 421 to a refused client: the fd rides in the generation field.
    static var busySide: UInt8 { 2 }
    static var clientSide: UInt8 { 0 }

    /// RFC 5321 §6.3 / RFC 3463 5.4.6: routing loop detected.
    static func tooManyHops(_ config: SMTPRelayConfig) -> SMTPReply {
        SMTPReply(code: 554, enhanced: "5.4.6", "Too many hops (more than \(config.maxHops) Received fields): mail loop?")
    }
    static var upstreamSide: UInt8 { 1 }

    init(engine: Engine, config: SMTPRelayConfig, counters: RelayCounters, workerIndex: Int,
         listenerFd: Int32, spool: SMTPSpoolShared? = nil, stopRequested: @escaping @Sendable () -> Bool) {
        self.engine = engine
        self.spool = spool
        var spoolOpenError: SystemError? = nil
        if let spool {
            do {
                spoolWork = try SMTPSpoolWork(shared: spool, workerIndex: workerIndex)
            } catch {
                // The spool was opened a moment ago by this process: fd exhaustion, or the
                // directory removed under us. The worker stops at once (run throws), the
                // relay exits 1 rather than accept mail it cannot keep.
                spoolWork = nil
                spoolOpenError = error
            }
        } else {
            spoolWork = nil
        }
        self.spoolOpenError = spoolOpenError
        self.config = config
        self.counters = counters
        self.workerIndex = workerIndex
        listener = ListenerAcceptor(fd: listenerFd, tag: Self.acceptTag)
        self.stopRequested = stopRequested
        clients = Array(repeating: nil, count: config.maxConnections)
        clientGenerations = Array(repeating: 0, count: config.maxConnections)
        freeClientSlots = Array((0..<config.maxConnections).reversed())
        let upstreamCapacity = config.maxConnections + config.upstreamIdleMax
        upstreams = Array(repeating: nil, count: upstreamCapacity)
        upstreamGenerations = Array(repeating: 0, count: upstreamCapacity)
        freeUpstreamSlots = Array((0..<upstreamCapacity).reversed())
        upstreamAddress = .allocate(capacity: 1)
        upstreamAddress.initialize(to: config.upstream.storage)
        let busy = SMTPReply(code: 421, enhanced: "4.7.0", "\(config.hostname) Too many connections, try again later").bytes
        busyReply = .allocate(byteCount: busy.count, alignment: 1)
        busyReply.copyBytes(from: busy)
        busyIov = .allocate(capacity: 1)
        busyIov.initialize(to: iovec(iov_base: busyReply.baseAddress, iov_len: busy.count))
        busyMessage = .allocate(capacity: 1)
        busyMessage.initialize(to: msghdr())
        busyMessage.pointee.msg_iov = busyIov
        busyMessage.pointee.msg_iovlen = 1
    }

    deinit {
        upstreamAddress.deallocate()
        busyReply.deallocate()
        busyIov.deallocate()
        busyMessage.deallocate()
    }

    // MARK: - Loop

    func run() throws(SystemError) {
        if let spoolOpenError {
            Glibc.close(listener.fd)
            throw spoolOpenError
        }
        var batch: [Completion] = []
        batch.reserveCapacity(1024)
        listener.arm(engine)
        engine.timeout(milliseconds: Self.tickMs, tag: Self.tickTag)
        while true {
            try engine.wait(into: &batch, timeoutMs: Self.tickMs)
            nowMs = MonotonicClock.nowMs()
            for c in batch { handle(c) }
            if let work = spoolWork {
                // After the whole batch: every message whose data sync completed in it shares
                // one directory sync (group commit), and new deliveries start.
                spoolGroupCommit(work)
                startDeliveries(work)
            }
            if drainDeadlineMs == nil && stopRequested() { beginDrain() }
            if drainDeadlineMs != nil {
                if liveClients == 0 { parked.forEach { closeUpstream($0, quit: true) } }
                let spoolBusy = spoolWork.map { !$0.incoming.isEmpty || $0.deliveriesInFlight > 0 } ?? false
                if !listener.isOpen && liveClients == 0 && liveUpstreams == 0 && !spoolBusy { break }
            }
        }
        // The last closes were only queued: issue them before the engine goes away.
        try engine.wait(into: &batch, timeoutMs: 0)
    }

    var liveClients: Int { clients.count - freeClientSlots.count }

    func beginDrain() {
        drainDeadlineMs = nowMs + Int64(config.drainTimeoutMs)
        listener.stop(engine)
    }

    func handle(_ c: Completion) {
        guard let kind = c.kind, kind != .wake, kind != .close, kind != .cancel else { return }
        let tag = RelayTag(c.tag)
        if tag.slot == RelayTag.controlSlot {
            switch (kind, tag.side) {
            case (.accept, _): handleAccept(c)
            case (.timeout, _): handleTick()
            case (.send, Self.busySide): engine.close(fd: Int32(tag.generation), tag: 0)
            case (.fileSync, Self.spoolDirectorySyncSide): spoolDirectorySynced(c)
            default: break
            }
            return
        }
        let index = Int(tag.slot)
        if tag.side == Self.spoolSide { return spoolFileCompleted(c, tag) }
        if tag.side == Self.clientSide {
            guard index < clients.count, let conn = clients[index], conn.generation == tag.generation else {
                if let id = c.bufferID { engine.releaseBuffer(id) }
                return
            }
            switch kind {
            case .receive: clientReceived(c, index, conn)
            case .send: clientSent(c, index, conn)
            default: break
            }
        } else {
            guard index < upstreams.count, let u = upstreams[index], u.generation == tag.generation else {
                if let id = c.bufferID { engine.releaseBuffer(id) }
                return
            }
            switch kind {
            case .connect: upstreamConnected(c, index, u)
            case .receive: upstreamReceived(c, index, u)
            case .send: upstreamSent(c, index, u)
            default: break
            }
        }
    }

    func clientTag(_ index: Int, _ conn: SMTPClientConnection) -> UInt64 {
        RelayTag(slot: UInt32(index), generation: conn.generation, side: Self.clientSide).raw
    }

    func upstreamTag(_ index: Int, _ u: SMTPUpstreamConnection) -> UInt64 {
        RelayTag(slot: UInt32(index), generation: u.generation, side: Self.upstreamSide).raw
    }

    // MARK: - Accept

    func handleAccept(_ c: Completion) {
        let workerIndex = self.workerIndex
        guard let fd = listener.completed(c, draining: drainDeadlineMs != nil, engine: engine, onError: { e in
            Log.warning("worker \(workerIndex): accept: \(errnoName(e)); retrying")
        }) else { return }
        guard counters.admitConnection(limit: config.maxConnections) else { return refuse(fd) }
        guard let index = freeClientSlots.popLast() else {
            counters.revokeAdmission()
            return refuse(fd)
        }
        try? Socket.setNoDelay(fd)
        let peer = (try? Socket.peerAddress(of: fd))
        var policy = SMTPServerPolicy(hostname: config.hostname, relayAllowed: peer.map(config.allows) ?? false,
                                      clientIP: peer?.ipString ?? "unknown")
        policy.maxMessageBytes = config.maxMessageBytes
        policy.maxRecipients = config.maxRecipients
        policy.bareLineEndings = config.bareLineEndings
        policy.greetingToken = SMTPRelayConfig.loopToken
        sessionsStarted += 1
        let idPrefix = String(workerIndex, radix: 16, uppercase: true) + String(sessionsStarted, radix: 16, uppercase: true)
        let queueID = SpoolTraceID()
        let session = SMTPServerSession(policy: policy) {
            // Queue mode: the Received field names the queue id the 250 will give, so a
            // delivered copy can be traced to its acknowledgement (as Postfix does).
            if !queueID.value.isEmpty { return (id: queueID.value, unixTime: Int(time(nil))) }
            // Unique per message: time, worker and session, and the nanoseconds of the moment.
            let now = Int(time(nil))
            let nanos = Int(MonotonicClock.nowNs() % 1_000_000_000)
            return (id: String(now, radix: 16, uppercase: true) + idPrefix + "." + String(nanos, radix: 36, uppercase: true),
                    unixTime: now)
        }
        clientGenerations[index] = (clientGenerations[index] &+ 1) & RelayTag.generationMask
        let conn = SMTPClientConnection(fd: fd, generation: clientGenerations[index], session: session,
                                        outCapacity: Self.clientOutCapacity, nowMs: nowMs)
        conn.queueID = queueID
        clients[index] = conn
        for action in conn.session.greeting() { execute(action, index, conn) }
        armClientReceive(index, conn)
    }

    func refuse(_ fd: Int32) {
        // A 421 tells an SMTP client to come back later (a reset would look like a network
        // fault); the static reply goes out through the engine and the fd is closed after it.
        engine.send(fd: fd, message: busyMessage, totalBytes: busyReply.count,
                    tag: RelayTag(slot: RelayTag.controlSlot, generation: UInt32(fd), side: Self.busySide).raw)
        let workerIndex = self.workerIndex, maxConnections = config.maxConnections
        refusalLog.note(nowMs: nowMs) { count in
            "worker \(workerIndex): refused \(count) client(s) with 421: --max-conns \(maxConnections) reached"
        }
    }

    // MARK: - Client socket

    func armClientReceive(_ index: Int, _ conn: SMTPClientConnection) {
        guard !conn.receiving, !conn.closing, !conn.sawEOF, !conn.closeAfterFlush else { return }
        conn.receiving = true
        conn.cancelling = false
        conn.opsInFlight += 1
        let room = max(engine.buffers.bufferSize, Self.inputBacklogMax - conn.input.count)
        engine.receiveMultishot(fd: conn.fd, tag: clientTag(index, conn), maxBytes: room)
    }

    func clientReceived(_ c: Completion, _ index: Int, _ conn: SMTPClientConnection) {
        if let id = c.bufferID {
            if c.result > 0 && !conn.closing && !conn.closeAfterFlush {
                conn.lastActivityMs = nowMs
                let bytes = UnsafeRawBufferPointer(start: engine.buffers.pointer(id), count: Int(c.result))
                if conn.input.isEmpty && !conn.pumping {
                    // The common case: the session reads straight from the pool buffer and
                    // only what it cannot take yet is kept.
                    conn.pumping = true
                    let used = feed(bytes, index, conn)
                    conn.pumping = false
                    if used < bytes.count { conn.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[used...])) }
                } else {
                    conn.input.append(contentsOf: bytes)
                }
            }
            engine.releaseBuffer(id)
            if conn.input.count >= Self.inputBacklogMax && conn.receiving && !conn.cancelling && c.hasMore {
                conn.cancelling = true
                engine.cancelReceive(fd: conn.fd, tag: clientTag(index, conn))
            }
        }
        if !c.hasMore {
            conn.receiving = false
            conn.cancelling = false
            conn.opsInFlight -= 1
            if conn.closing { return finishClientIfQuiet(index, conn) }
            if c.result == 0 {
                conn.sawEOF = true
            } else if c.result < 0 && c.result != -ECANCELED && c.result != -ENOBUFS {
                return closeClient(index, conn, abortive: true)
            }
        }
        pump(index, conn)
    }

    /// Feeds the backlog to the session, then re-arms reading or ends the session as due.
    func pump(_ index: Int, _ conn: SMTPClientConnection) {
        guard !conn.closing else { return }
        // An upstream reply can arrive synchronously while the session is being fed (a
        // refusal decided locally): the outer pump then goes round once more.
        guard !conn.pumping else {
            conn.pumpAgain = true
            return
        }
        conn.pumping = true
        repeat {
            conn.pumpAgain = false
            guard !conn.input.isEmpty else { break }
            var input = conn.input
            conn.input = []
            let used = input.withUnsafeBytes { feed($0, index, conn) }
            input.removeFirst(used)
            conn.input = input + conn.input
        } while conn.pumpAgain && !conn.closing
        conn.pumping = false
        if conn.closing { return }
        if conn.sawEOF && conn.input.isEmpty && !conn.session.isWaitingForUpstream && !conn.closeAfterFlush {
            // The client left without QUIT: whatever transaction it had open is abandoned
            // (nothing was acknowledged for it), the replies already due still go out.
            conn.closeAfterFlush = true
        }
        if conn.closeAfterFlush {
            if conn.out.isEmpty && conn.outOverflow.isEmpty && !conn.sending { closeClient(index, conn, abortive: false) }
            return
        }
        if !conn.receiving && conn.input.count < Self.inputBacklogMax / 2 { armClientReceive(index, conn) }
    }

    /// Gives the session as much of `bytes` as it can act on now; returns the bytes consumed.
    func feed(_ bytes: UnsafeRawBufferPointer, _ index: Int, _ conn: SMTPClientConnection) -> Int {
        var offset = 0
        while offset < bytes.count && !conn.closing && !conn.closeAfterFlush && !conn.session.isWaitingForUpstream {
            let allowance = inputAllowance(conn)
            guard allowance > 0 else { break }
            let end = min(bytes.count, offset + allowance)
            let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
            let (used, actions) = conn.session.receive(slice)
            offset += used
            for action in actions {
                execute(action, index, conn, input: slice)
                if conn.closing { return offset }
            }
            if used == 0 { break }
        }
        return offset
    }

    /// How many input bytes the session may be given now without its output overrunning a
    /// queue: body bytes become at most twice as many (bare LF normalized to CRLF) plus a
    /// few inserted bytes; command replies are bounded by `commandSliceBytes` of input.
    func inputAllowance(_ conn: SMTPClientConnection) -> Int {
        guard conn.outOverflow.isEmpty, conn.out.freeBytes >= 4096 else { return 0 }
        guard conn.session.isStreamingBody else { return Self.commandSliceBytes }
        if spoolWork != nil { return spoolInputAllowance(conn) }
        guard let ui = conn.upstream, let u = upstreams[ui], !u.closing else {
            return Self.inputBacklogMax  // nothing will be forwarded
        }
        return max(0, (u.out.freeBytes - 1024) / 2)
    }

    func writeToClient(_ bytes: [UInt8], _ index: Int, _ conn: SMTPClientConnection) {
        if conn.outOverflow.isEmpty && conn.out.append(bytes) {
            // fits
        } else {
            conn.outOverflow += bytes
        }
        sendToClient(index, conn)
    }

    func sendToClient(_ index: Int, _ conn: SMTPClientConnection) {
        guard !conn.sending, !conn.closing else { return }
        if !conn.outOverflow.isEmpty {
            let n = min(conn.out.freeBytes, conn.outOverflow.count)
            if n > 0 {
                conn.outOverflow.withUnsafeBytes { _ = conn.out.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                conn.outOverflow.removeFirst(n)
            }
        }
        guard let send = conn.out.messageForSend() else { return }
        conn.sending = true
        conn.opsInFlight += 1
        engine.send(fd: conn.fd, message: send.message, totalBytes: send.bytes, tag: clientTag(index, conn))
    }

    func clientSent(_ c: Completion, _ index: Int, _ conn: SMTPClientConnection) {
        conn.sending = false
        conn.opsInFlight -= 1
        if conn.closing { return finishClientIfQuiet(index, conn) }
        guard c.result > 0 else { return closeClient(index, conn, abortive: true) }
        conn.out.consume(Int(c.result))
        conn.lastActivityMs = nowMs
        sendToClient(index, conn)
        pump(index, conn)
    }

    func closeClient(_ index: Int, _ conn: SMTPClientConnection, abortive: Bool) {
        guard !conn.closing else { return }
        conn.closing = true
        conn.abortive = abortive
        releaseUpstream(of: conn)
        if spoolWork != nil { discardIncoming(conn) }
        if conn.opsInFlight > 0 { engine.cancelAll(fd: conn.fd) }
        finishClientIfQuiet(index, conn)
    }

    func finishClientIfQuiet(_ index: Int, _ conn: SMTPClientConnection) {
        guard conn.closing, conn.opsInFlight == 0, clients[index] === conn else { return }
        if conn.abortive { try? Socket.setLingerZero(conn.fd) }
        engine.close(fd: conn.fd, tag: 0)
        clients[index] = nil
        freeClientSlots.append(index)
        counters.activeConnections.subtract(1, ordering: .relaxed)
        counters.connectionsClosedTotal.add(1, ordering: .relaxed)
    }

    // MARK: - Session actions

    /// `input` is the buffer the action's session call was given (body spans point into it).
    func execute(_ action: SMTPSessionAction, _ index: Int, _ conn: SMTPClientConnection,
                         input: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) {
        switch action {
        case .upstreamData:
            conn.hopCounter = ReceivedHopCounter()
        case .upstreamBody(let prefix, let range):
            conn.hopCounter.feed(prefix)
            conn.hopCounter.feed(UnsafeRawBufferPointer(rebasing: input[range]))
        default:
            break
        }
        if spoolWork != nil {
            if case .reply(let reply) = action { return writeToClient(reply.bytes, index, conn) }
            if case .close = action { return conn.closeAfterFlush = true }
            return executeQueued(action, index, conn, input: input)
        }
        switch action {
        case .reply(let reply):
            writeToClient(reply.bytes, index, conn)
        case .upstreamMail(let path, let parameters, let smtputf8):
            guard let (ui, u) = attachUpstream(index, conn) else {
                return sessionUpstreamFailed(index, conn, "Upstream unavailable; try again later")
            }
            request(.mail(reversePath: path, parameters: parameters, smtputf8: smtputf8), ui, u)
        case .upstreamRcpt(let path):
            withUpstream(index, conn) { ui, u in request(.rcpt(forwardPath: path), ui, u) }
        case .upstreamData:
            withUpstream(index, conn) { ui, u in request(.data, ui, u) }
        case .upstreamBody(let prefix, let range):
            withUpstream(index, conn) { ui, u in
                // The one copy of a body byte: from the receive buffer into the send ring.
                let span = UnsafeRawBufferPointer(rebasing: input[range])
                guard prefix.count + span.count <= u.out.freeBytes else {
                    // Cannot happen while inputAllowance holds; if it does, the message must
                    // not go out truncated.
                    return failUpstream(ui, u, "relay error: upstream queue overrun", abortive: true)
                }
                if !prefix.isEmpty { u.out.append(prefix) }
                u.out.append(span)
                counters.bytesRelayedTotal.add(prefix.count + span.count, ordering: .relaxed)
                sendToUpstream(ui, u)
            }
        case .upstreamEndOfData:
            if conn.hopCounter.hops > config.maxHops {
                // A loop (or a path far too long): the body went upstream, its end must not.
                // The connection is reset, the client told why.
                if let ui = conn.upstream, upstreams[ui] != nil {
                    conn.upstream = nil
                    upstreams[ui]!.owner = nil
                    closeUpstream(ui, abortive: true)
                }
                Log.warning("worker \(workerIndex): message refused: \(conn.hopCounter.hops) Received fields (a mail loop?)")
                for action in conn.session.upstreamReplied(Self.tooManyHops(config)) { execute(action, index, conn) }
                return
            }
            withUpstream(index, conn) { ui, u in request(.endOfData, ui, u) }
        case .upstreamAbort:
            // The body in flight must never be completed: drop the connection with a reset.
            if let ui = conn.upstream, let u = upstreams[ui] {
                conn.upstream = nil
                u.owner = nil
                closeUpstream(ui, abortive: true)
            }
        case .upstreamReset:
            guard let ui = conn.upstream, let u = upstreams[ui], !u.closing else { break }
            if u.client.state == .body {
                // RSET cannot interrupt a body (it would be read as body text): the message
                // in flight is dropped with the connection instead.
                conn.upstream = nil
                u.owner = nil
                closeUpstream(ui, abortive: true)
            } else {
                request(.reset, ui, u)
            }
        case .close:
            conn.closeAfterFlush = true
        }
    }

    /// Runs `body` with the client's upstream, or reports it lost to the session.
    func withUpstream(_ index: Int, _ conn: SMTPClientConnection,
                              _ body: (Int, SMTPUpstreamConnection) -> Void) {
        guard let ui = conn.upstream, let u = upstreams[ui], !u.closing else {
            return sessionUpstreamFailed(index, conn, "Upstream connection lost; try again later")
        }
        body(ui, u)
    }

    func sessionUpstreamFailed(_ index: Int, _ conn: SMTPClientConnection, _ reason: String) {
        guard !conn.closing else { return }
        for action in conn.session.upstreamFailed(reason) { execute(action, index, conn) }
    }

    // MARK: - Upstream connections

    /// The client's upstream connection: its own, a parked one, or a new one.
    func attachUpstream(_ index: Int, _ conn: SMTPClientConnection) -> (Int, SMTPUpstreamConnection)? {
        if let ui = conn.upstream, let u = upstreams[ui], !u.closing { return (ui, u) }
        conn.upstream = nil
        while let ui = parked.popLast() {
            guard let u = upstreams[ui], !u.closing else { continue }
            u.owner = index
            conn.upstream = ui
            return (ui, u)
        }
        guard let (ui, u) = openUpstream() else { return nil }
        u.owner = index
        conn.upstream = ui
        return (ui, u)
    }

    /// A new connection to the upstream (connecting; requests queue until it is ready).
    func openUpstream() -> (Int, SMTPUpstreamConnection)? {
        guard let ui = freeUpstreamSlots.popLast() else { return nil }
        let fd: Int32
        do {
            fd = try Socket.makeStreamSocket(family: config.upstream.family)
        } catch {
            freeUpstreamSlots.append(ui)
            Log.warning("worker \(workerIndex): cannot open a socket to the upstream: \(error)")
            return nil
        }
        upstreamGenerations[ui] = (upstreamGenerations[ui] &+ 1) & RelayTag.generationMask
        let u = SMTPUpstreamConnection(fd: fd, generation: upstreamGenerations[ui], heloName: config.hostname,
                                       loopToken: SMTPRelayConfig.loopToken,
                                       outCapacity: Self.upstreamOutCapacity, nowMs: nowMs)
        upstreams[ui] = u
        liveUpstreams += 1
        u.opsInFlight += 1
        upstreamAddress.withMemoryRebound(to: sockaddr.self, capacity: 1) { addr in
            engine.connect(fd: fd, address: addr, length: config.upstream.length, tag: upstreamTag(ui, u))
        }
        return (ui, u)
    }

    /// The client is done with its upstream connection: park it for the next message when it
    /// is healthy and between messages, else give it up.
    func releaseUpstream(of conn: SMTPClientConnection) {
        guard let ui = conn.upstream, let u = upstreams[ui] else { return }
        conn.upstream = nil
        u.owner = nil
        parkUpstream(ui, u)
    }

    /// Keeps a connection nobody uses for the next message when it is healthy and between
    /// messages (RSET first if a transaction is open), else gives it up.
    func parkUpstream(_ ui: Int, _ u: SMTPUpstreamConnection) {
        guard !u.closing else { return }
        switch u.client.state {
        case .body, .failed:
            closeUpstream(ui, abortive: true)  // a body half sent must never be completed
            return
        case .greeting, .ehlo, .helo, .ready:
            break
        }
        if u.client.transactionOpen || !u.client.isIdle { request(.reset, ui, u) }
        if u.closing { return }
        if parked.count < config.upstreamIdleMax && drainDeadlineMs == nil {
            u.parkedSinceMs = nowMs
            parked.append(ui)
        } else {
            closeUpstream(ui, quit: true)
        }
    }

    func request(_ r: SMTPUpstreamRequest, _ ui: Int, _ u: SMTPUpstreamConnection) {
        if !u.client.isAwaitingReply { u.lastProgressMs = nowMs }
        if let owner = u.owner, let conn = clients[owner] { conn.lastActivityMs = nowMs }
        apply(u.client.request(r), ui, u)
    }

    /// Carries out the upstream client's events. Bytes to send go first: they were decided
    /// before any reply below can make the session ask for more.
    func apply(_ events: [SMTPUpstreamEvent], _ ui: Int, _ u: SMTPUpstreamConnection) {
        for case .send(let bytes) in events {
            guard u.out.append(bytes) else {
                return failUpstream(ui, u, "relay error: upstream command queue full", abortive: true)
            }
        }
        sendToUpstream(ui, u)
        for event in events {
            switch event {
            case .send:
                continue
            case .replied(let reply):
                if let d = u.delivery {
                    deliveryReplied(d, reply, ui, u)
                    if u.closing { return }
                    continue
                }
                guard let owner = u.owner, let conn = clients[owner], !conn.closing else { continue }
                if reply.code == 250, conn.session.isWaitingForEndOfData {
                    counters.messagesRelayedTotal.add(1, ordering: .relaxed)
                }
                for action in conn.session.upstreamReplied(reply) { execute(action, owner, conn) }
                pump(owner, conn)
            case .failed(let reason):
                return failUpstream(ui, u, reason, abortive: false)
            }
            if u.closing { return }
        }
    }

    /// The connection is unusable: close it and tell its client's session (a transient
    /// failure for whatever it was waiting on).
    func failUpstream(_ ui: Int, _ u: SMTPUpstreamConnection, _ reason: String, abortive: Bool) {
        let owner = u.owner
        u.owner = nil
        counters.upstreamConnectFailuresTotal.add(u.connected ? 0 : 1, ordering: .relaxed)
        let workerIndex = self.workerIndex, upstream = config.upstream
        upstreamFailureLog.note(nowMs: nowMs) { count in
            "worker \(workerIndex): upstream \(upstream): \(count) connection(s) failed (last: \(reason))"
        }
        let delivery = u.delivery
        u.delivery = nil
        closeUpstream(ui, abortive: abortive)
        if let delivery, let work = spoolWork { return finishDelivery(delivery, work, failure: reason) }
        guard let owner, let conn = clients[owner], conn.upstream == ui else { return }
        conn.upstream = nil
        // The client learns that it is transient, not where our smarthost lives or why: that
        // is in the log line above.
        sessionUpstreamFailed(owner, conn, u.connected ? "Upstream connection lost; try again later"
                                                       : "Upstream unavailable; try again later")
        pump(owner, conn)
    }

    func upstreamConnected(_ c: Completion, _ ui: Int, _ u: SMTPUpstreamConnection) {
        u.opsInFlight -= 1
        if u.closing { return finishUpstreamIfQuiet(ui, u) }
        guard c.result == 0 else {
            return failUpstream(ui, u, "connect to \(config.upstream): \(errnoName(-c.result))", abortive: false)
        }
        u.connected = true
        u.lastProgressMs = nowMs
        try? Socket.setNoDelay(u.fd)
        u.receiving = true
        u.opsInFlight += 1
        engine.receiveMultishot(fd: u.fd, tag: upstreamTag(ui, u), maxBytes: 0)
        sendToUpstream(ui, u)
    }

    func upstreamReceived(_ c: Completion, _ ui: Int, _ u: SMTPUpstreamConnection) {
        if let id = c.bufferID {
            if c.result > 0 && !u.closing {
                u.lastProgressMs = nowMs
                let events = u.client.receive(UnsafeRawBufferPointer(start: engine.buffers.pointer(id), count: Int(c.result)))
                engine.releaseBuffer(id)
                apply(events, ui, u)
            } else {
                engine.releaseBuffer(id)
            }
        }
        guard !c.hasMore else { return }
        u.receiving = false
        u.opsInFlight -= 1
        if u.closing { return finishUpstreamIfQuiet(ui, u) }
        if c.result == -ENOBUFS || c.result == -ECANCELED || c.result > 0 {
            u.receiving = true
            u.opsInFlight += 1
            engine.receiveMultishot(fd: u.fd, tag: upstreamTag(ui, u), maxBytes: 0)
            return
        }
        let reason = c.result == 0 ? "upstream closed the connection" : "upstream connection: \(errnoName(-c.result))"
        failUpstream(ui, u, reason, abortive: c.result < 0)
    }

    func sendToUpstream(_ ui: Int, _ u: SMTPUpstreamConnection) {
        guard u.connected, !u.sending, !u.closing else { return }
        guard let send = u.out.messageForSend() else { return }
        u.sending = true
        u.opsInFlight += 1
        engine.send(fd: u.fd, message: send.message, totalBytes: send.bytes, tag: upstreamTag(ui, u))
    }

    func upstreamSent(_ c: Completion, _ ui: Int, _ u: SMTPUpstreamConnection) {
        u.sending = false
        u.opsInFlight -= 1
        if u.closing { return finishUpstreamIfQuiet(ui, u) }
        guard c.result > 0 else {
            return failUpstream(ui, u, "send to upstream: \(errnoName(-c.result))", abortive: true)
        }
        u.out.consume(Int(c.result))
        u.lastProgressMs = nowMs
        if u.closeAfterFlush && u.out.isEmpty { return closeUpstream(ui, abortive: false) }
        sendToUpstream(ui, u)
        if let d = u.delivery, d.streaming { pumpDeliveryBody(d, ui, u) }
        // Room in the queue: a body held back for it can flow again.
        if let owner = u.owner, let conn = clients[owner], conn.session.isStreamingBody { pump(owner, conn) }
    }

    /// Closes an upstream connection (after a parting QUIT when `quit` and it is usable).
    func closeUpstream(_ ui: Int, abortive: Bool = false, quit: Bool = false) {
        guard let u = upstreams[ui], !u.closing else { return }
        parked.removeAll { $0 == ui }
        if quit && u.connected && u.client.isIdle && !u.closeAfterFlush {
            u.owner = nil
            u.closeAfterFlush = true
            apply(u.client.request(.quit), ui, u)
            if u.closing || !u.out.isEmpty { return }
        }
        u.closing = true
        u.abortive = abortive
        if u.opsInFlight > 0 { engine.cancelAll(fd: u.fd) }
        finishUpstreamIfQuiet(ui, u)
    }

    func finishUpstreamIfQuiet(_ ui: Int, _ u: SMTPUpstreamConnection) {
        guard u.closing, u.opsInFlight == 0, upstreams[ui] === u else { return }
        if u.abortive { try? Socket.setLingerZero(u.fd) }
        engine.close(fd: u.fd, tag: 0)
        upstreams[ui] = nil
        freeUpstreamSlots.append(ui)
        liveUpstreams -= 1
    }

    // MARK: - Timers

    func handleTick() {
        engine.timeout(milliseconds: Self.tickMs, tag: Self.tickTag)
        refusalLog.flush(nowMs: nowMs)
        upstreamFailureLog.flush(nowMs: nowMs)
        if drainDeadlineMs == nil { listener.arm(engine) }
        if drainDeadlineMs == nil && stopRequested() { beginDrain() }
        if let work = spoolWork { spoolTick(work) }
        let drainExpired = drainDeadlineMs.map { nowMs >= $0 } ?? false
        for ui in upstreams.indices {
            guard let u = upstreams[ui], !u.closing else { continue }
            if !u.connected || u.client.state != .ready && u.client.state != .body {
                if nowMs - u.lastProgressMs >= Int64(config.connectTimeoutMs) {
                    failUpstream(ui, u, "upstream did not connect and greet within \(config.connectTimeoutMs) ms", abortive: true)
                }
            } else if u.client.isAwaitingReply || u.sending {
                if nowMs - u.lastProgressMs >= Int64(config.upstreamTimeoutMs) {
                    failUpstream(ui, u, "upstream did not answer within \(config.upstreamTimeoutMs) ms", abortive: true)
                }
            } else if u.owner == nil && u.delivery == nil && nowMs - u.parkedSinceMs >= Int64(config.upstreamIdleTimeoutMs) {
                closeUpstream(ui, quit: true)
            }
        }
        for index in clients.indices {
            guard let conn = clients[index], !conn.closing else { continue }
            if drainExpired {
                if !conn.closeAfterFlush {
                    writeToClient(SMTPReply.serviceUnavailable(config.hostname).bytes, index, conn)
                    conn.closeAfterFlush = true
                    releaseUpstream(of: conn)
                    pump(index, conn)
                } else if let deadline = drainDeadlineMs, nowMs >= deadline + 1000 {
                    closeClient(index, conn, abortive: true)  // it did not take even the 421
                }
                continue
            }
            // A session waiting on an upstream that owes nothing (a bug, or a connection gone
            // without a word) must not wait forever: the upstream timers bound every wait.
            if spoolWork == nil && conn.session.isWaitingForUpstream
                && nowMs - conn.lastActivityMs >= Int64(config.connectTimeoutMs + config.upstreamTimeoutMs) {
                if let ui = conn.upstream, upstreams[ui] != nil {
                    conn.upstream = nil
                    upstreams[ui]!.owner = nil
                    closeUpstream(ui, abortive: true)
                }
                conn.lastActivityMs = nowMs
                sessionUpstreamFailed(index, conn, "Upstream did not answer; try again later")
                pump(index, conn)
                continue
            }
            // The client owes us something when it has nothing pending with us (no unconsumed
            // input, no upstream answer awaited) or when our replies are not being read.
            let owesUs = !conn.session.isWaitingForUpstream && (conn.input.isEmpty || !conn.out.isEmpty)
            if owesUs && nowMs - conn.lastActivityMs >= Int64(config.commandTimeoutMs) {
                if conn.closeAfterFlush {
                    closeClient(index, conn, abortive: true)  // not even reading our replies
                } else {
                    writeToClient(SMTPReply(code: 421, enhanced: "4.4.2", "\(config.hostname) Error: timeout exceeded").bytes, index, conn)
                    conn.closeAfterFlush = true
                    conn.lastActivityMs = nowMs
                    releaseUpstream(of: conn)
                    pump(index, conn)
                }
            }
        }
    }
}
