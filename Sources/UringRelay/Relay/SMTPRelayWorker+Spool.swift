import Glibc

/// Queue mode, the receiving half: the session's upstream requests are answered here from
/// the spool, and a message's 250 waits until it is durable. A message is written to tmp/ID
/// as it arrives (64 KiB writes through the engine), then fdatasync'ed, renamed into queue/,
/// and acknowledged once the directory sync that follows the rename completes. That directory
/// sync is shared: every message renamed while one is in flight waits for the next one, which
/// is issued after the loop's batch, so N concurrent sessions pay one directory sync, not N.
extension SMTPRelayWorker {
    static var spoolSide: UInt8 { 3 }
    static var spoolDirectorySyncSide: UInt8 { 4 }
    static var spoolChunkBytes: Int { 64 << 10 }

    static var spoolFull: SMTPReply { SMTPReply(code: 452, enhanced: "4.3.1", "Insufficient system storage") }
    static var spoolWriteFailed: SMTPReply { SMTPReply(code: 451, enhanced: "4.3.0", "Local error writing the spool; try again later") }

    func executeQueued(_ action: SMTPSessionAction, _ index: Int, _ conn: SMTPClientConnection, input: UnsafeRawBufferPointer) {
        guard let work = spoolWork else { return }
        switch action {
        case .upstreamMail(let path, let parameters, _):
            discardIncoming(conn)
            // Refused at MAIL when already full, or too full for the SIZE the client declared.
            let declared = parameters.split(separator: " ").lazy.compactMap { p -> Int? in
                p.uppercased().hasPrefix("SIZE=") ? Int(p.dropFirst(5)) : nil
            }.first ?? 0
            let accounting = work.shared.accounting
            guard !accounting.isFull, accounting.usedBytes + declared <= accounting.maxBytes else {
                return localReply(Self.spoolFull, index, conn)
            }
            let id = work.newID(workerIndex: workerIndex)
            let envelope = SpoolEnvelope(id: id, arrivalUnixMs: SMTPSpoolWork.nowUnixMs(), reversePath: path,
                                         mailParameters: parameters, recipients: [])
            let m = SpoolIncomingMessage(slot: work.newIncomingSlot(), envelope: envelope, owner: conn, ownerIndex: index,
                                         tmpPath: work.directory.tmpFile(id))
            work.incoming[m.slot] = m
            conn.spoolMessage = m
            conn.queueID?.value = id
            localReply(.senderOK(), index, conn)
        case .upstreamRcpt(let path):
            guard let m = conn.spoolMessage else { return localReply(.upstreamFailed("Spool transaction lost"), index, conn) }
            m.envelope.recipients.append(path)
            localReply(.recipientOK(), index, conn)
        case .upstreamData:
            guard let m = conn.spoolMessage else { return localReply(.upstreamFailed("Spool transaction lost"), index, conn) }
            let header = m.envelope.encodedHeader()
            guard work.shared.accounting.reserve(header.count) else {
                discardIncoming(conn)
                return localReply(Self.spoolFull, index, conn)
            }
            m.reservedBytes = header.count
            let fd = open(m.tmpPath, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                let e = errno
                Log.warning("worker \(workerIndex): spool: open \(m.tmpPath): \(errnoName(e))")
                discardIncoming(conn)
                return localReply(e == ENOSPC || e == EDQUOT ? Self.spoolFull : Self.spoolWriteFailed, index, conn)
            }
            m.fd = fd
            m.headerBytes = header.count
            m.filling = header
            m.filling.reserveCapacity(2 * Self.spoolChunkBytes + 4096)
            localReply(SMTPReply(code: 354, "End data with <CR><LF>.<CR><LF>"), index, conn)
        case .upstreamBody(let prefix, let range):
            guard let m = conn.spoolMessage, m.failure == nil, !m.aborted else { return }
            let span = UnsafeRawBufferPointer(rebasing: input[range])
            guard work.shared.accounting.reserve(prefix.count + span.count) else {
                // Full midway: the rest of the body is consumed and dropped; 452 at its end.
                m.failure = Self.spoolFull
                return
            }
            m.reservedBytes += prefix.count + span.count
            m.filling += prefix
            m.filling += span
            if conn.hopCounter.hops > config.maxHops && m.failure == nil {
                // A loop between relays: refused at its end, never stored and sent on again.
                m.failure = Self.tooManyHops(config)
            }
            if m.filling.count >= Self.spoolChunkBytes { advanceIncoming(m, work) }
        case .upstreamEndOfData:
            guard let m = conn.spoolMessage else { return localReply(.upstreamFailed("Spool transaction lost"), index, conn) }
            m.ended = true
            advanceIncoming(m, work)
        case .upstreamAbort, .upstreamReset:
            discardIncoming(conn)
        case .reply, .close:
            break
        }
    }

    /// Feeds a locally decided "upstream" reply to the session and carries out what follows.
    func localReply(_ reply: SMTPReply, _ index: Int, _ conn: SMTPClientConnection) {
        for action in conn.session.upstreamReplied(reply) { execute(action, index, conn) }
    }

    /// Body input the session may take now: what fits in two chunks of memory, halved for
    /// bare-LF normalization (the same rule as the cut-through mode's send queue).
    func spoolInputAllowance(_ conn: SMTPClientConnection) -> Int {
        guard let m = conn.spoolMessage, m.failure == nil, !m.aborted else { return Self.inputBacklogMax }
        return max(0, (2 * Self.spoolChunkBytes - m.filling.count - 1024) / 2)
    }

    /// Moves a message on: the next write, else the data sync once the end is written.
    func advanceIncoming(_ m: SpoolIncomingMessage, _ work: SMTPSpoolWork) {
        guard !m.writing, !m.syncing else { return }
        if m.aborted { return finishIncoming(m, work, reply: nil) }
        if let failure = m.failure {
            if m.ended { finishIncoming(m, work, reply: failure) }
            return
        }
        if !m.filling.isEmpty && (m.filling.count >= Self.spoolChunkBytes || m.ended) {
            let n = min(m.filling.count, Self.spoolChunkBytes)
            if m.writeBuffer == nil { m.writeBuffer = .allocate(byteCount: Self.spoolChunkBytes, alignment: 16) }
            m.filling.withUnsafeBytes { m.writeBuffer!.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            m.filling.removeFirst(n)
            m.writeCount = n
            m.writeDone = 0
            m.writing = true
            engine.writeFile(fd: m.fd, bytes: m.writeBuffer!.baseAddress!, count: n, offset: m.fileOffset, tag: spoolTag(m))
            return
        }
        if m.ended && m.filling.isEmpty {
            m.syncing = true
            engine.syncFile(fd: m.fd, dataOnly: true, tag: spoolTag(m))
        }
    }

    func spoolTag(_ m: SpoolIncomingMessage) -> UInt64 {
        RelayTag(slot: m.slot, generation: 0, side: Self.spoolSide).raw
    }

    func spoolFileCompleted(_ c: Completion, _ tag: RelayTag) {
        guard let work = spoolWork, let m = work.incoming[tag.slot] else { return }
        if c.kind == .fileWrite {
            m.writing = false
            if c.result < 0 {
                if m.failure == nil {
                    m.failure = c.result == -ENOSPC || c.result == -EDQUOT ? Self.spoolFull : Self.spoolWriteFailed
                    Log.warning("worker \(workerIndex): spool: write \(m.tmpPath): \(errnoName(-c.result))")
                }
            } else {
                m.writeDone += Int(c.result)
                m.fileOffset += Int64(c.result)
                if m.writeDone < m.writeCount && c.result > 0 && !m.aborted {
                    // Short write: the rest from where it stopped.
                    m.writing = true
                    engine.writeFile(fd: m.fd, bytes: m.writeBuffer!.baseAddress! + m.writeDone, count: m.writeCount - m.writeDone,
                                     offset: m.fileOffset, tag: spoolTag(m))
                    return
                }
                if m.writeDone < m.writeCount && m.failure == nil { m.failure = Self.spoolWriteFailed }
            }
            advanceIncoming(m, work)
            // Room again for body bytes that waited.
            if let owner = m.owner, clients[m.ownerIndex] === owner, owner.spoolMessage === m { pump(m.ownerIndex, owner) }
            return
        }
        // The data sync.
        m.syncing = false
        if m.aborted { return finishIncoming(m, work, reply: nil) }
        guard c.result == 0 else {
            Log.warning("worker \(workerIndex): spool: fdatasync \(m.tmpPath): \(errnoName(-c.result))")
            return finishIncoming(m, work, reply: Self.spoolWriteFailed)
        }
        guard rename(m.tmpPath, work.directory.messageFile(m.envelope.id)) == 0 else {
            Log.warning("worker \(workerIndex): spool: rename into queue/: \(errnoName(errno))")
            return finishIncoming(m, work, reply: Self.spoolWriteFailed)
        }
        engine.close(fd: m.fd, tag: 0)
        m.fd = -1
        work.awaitingDirectorySync.append(m)
    }

    /// One directory sync for every message renamed since the last one was issued.
    func spoolGroupCommit(_ work: SMTPSpoolWork) {
        guard !work.directorySyncInFlight, !work.awaitingDirectorySync.isEmpty else { return }
        swap(&work.inDirectorySync, &work.awaitingDirectorySync)
        work.directorySyncInFlight = true
        engine.syncFile(fd: work.queueDirFd, dataOnly: false,
                        tag: RelayTag(slot: RelayTag.controlSlot, generation: 0, side: Self.spoolDirectorySyncSide).raw)
    }

    func spoolDirectorySynced(_ c: Completion) {
        guard let work = spoolWork else { return }
        work.directorySyncInFlight = false
        let group = work.inDirectorySync
        work.inDirectorySync = []
        if c.result != 0 { Log.warning("worker \(workerIndex): spool: fsync queue/: \(errnoName(-c.result))") }
        for m in group {
            work.incoming[m.slot] = nil
            // In queue/ either way, so it will be delivered; but only a synced name earns a 250
            // (a client told 451 sends again: a duplicate, never a loss).
            let entry = SpoolQueueEntry(SpooledMessage(envelope: m.envelope, bodyOffset: m.headerBytes, fileBytes: m.reservedBytes,
                                                       progress: SpoolProgress(recipientCount: m.envelope.recipients.count)))
            work.entries[m.envelope.id] = entry
            work.enqueue(entry)
            replyToOwner(m, c.result == 0 ? SMTPReply(code: 250, enhanced: "2.0.0", "Ok: queued as \(m.envelope.id)") : Self.spoolWriteFailed)
        }
        spoolGroupCommit(work)
    }

    func replyToOwner(_ m: SpoolIncomingMessage, _ reply: SMTPReply) {
        guard let owner = m.owner, clients[m.ownerIndex] === owner, owner.spoolMessage === m, !owner.closing else { return }
        owner.spoolMessage = nil
        m.owner = nil
        if reply.code == 250 { counters.messagesRelayedTotal.add(1, ordering: .relaxed) }
        owner.lastActivityMs = nowMs
        localReply(reply, m.ownerIndex, owner)
        pump(m.ownerIndex, owner)
    }

    /// A message that will not be committed: its file and its bytes go; `reply` to the client.
    func finishIncoming(_ m: SpoolIncomingMessage, _ work: SMTPSpoolWork, reply: SMTPReply?) {
        if m.fd >= 0 {
            engine.close(fd: m.fd, tag: 0)
            m.fd = -1
            unlink(m.tmpPath)
        }
        work.shared.accounting.release(m.reservedBytes)
        m.reservedBytes = 0
        work.incoming[m.slot] = nil
        if let reply { replyToOwner(m, reply) }
        m.owner = nil
    }

    /// The client's transaction ends without an end of data (RSET, a new MAIL, a refused
    /// body, the client gone). After the end of data the commit goes on without it.
    func discardIncoming(_ conn: SMTPClientConnection) {
        guard let m = conn.spoolMessage, let work = spoolWork else { return }
        conn.spoolMessage = nil
        m.owner = nil
        if m.ended && m.failure == nil { return }
        m.aborted = true
        if !m.writing && !m.syncing { finishIncoming(m, work, reply: nil) }
    }
}
