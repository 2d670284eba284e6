import Glibc

/// Queue mode, the delivering half: due messages go to the upstream over the same pooled,
/// reused connections the cut-through mode uses, one message per connection at a time,
/// MAIL + one RCPT per pending recipient + DATA pipelined, then the body read from the
/// message file as the connection's send queue drains. Each recipient's outcome is recorded:
/// delivered, retried later (4xx, timeout, refused or lost connection) or bounced (5xx, or
/// still failing at expiry) with a DSN to the reverse-path.
extension SMTPRelayWorker {
    func startDeliveries(_ work: SMTPSpoolWork) {
        guard drainDeadlineMs == nil else { return }
        while work.deliveriesInFlight < config.maxDeliveriesPerWorker && work.hasDue {
            guard let entry = work.popDue() else { return }
            let pending = entry.message.progress.pendingIndices
            guard !pending.isEmpty else {
                removeEntry(entry, work)
                continue
            }
            let fd = open(work.directory.messageFile(entry.id), O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                // Deleted behind our back (`uring-relay queue delete`): forget it.
                Log.info("worker \(workerIndex): spool: \(entry.id) is gone from queue/; dropped")
                work.entries[entry.id] = nil
                work.shared.accounting.release(entry.message.fileBytes)
                continue
            }
            guard let (ui, u) = deliveryUpstream() else {
                close(fd)
                work.enqueue(entry)  // no connection slot now: the next round
                return
            }
            let d = SpoolDelivery(entry: entry, recipients: pending, fd: fd)
            entry.delivering = true
            work.deliveriesInFlight += 1
            u.delivery = d
            let envelope = entry.message.envelope
            request(.mail(reversePath: envelope.reversePath, parameters: envelope.mailParameters, smtputf8: envelope.smtputf8), ui, u)
            for i in pending where u.delivery === d {
                request(.rcpt(forwardPath: envelope.recipients[i]), ui, u)
            }
            if u.delivery === d { request(.data, ui, u) }
        }
    }

    /// A parked connection, or a new one.
    func deliveryUpstream() -> (Int, SMTPUpstreamConnection)? {
        while let ui = parked.popLast() {
            guard let u = upstreams[ui], !u.closing, u.owner == nil, u.delivery == nil else { continue }
            return (ui, u)
        }
        return openUpstream()
    }

    func deliveryReplied(_ d: SpoolDelivery, _ reply: SMTPReply, _ ui: Int, _ u: SMTPUpstreamConnection) {
        guard let work = spoolWork else { return }
        switch d.attempt.replied(reply) {
        case .wait:
            break
        case .sendBody:
            d.streaming = true
            pumpDeliveryBody(d, ui, u)
        case .abandonConnection:
            u.delivery = nil
            closeUpstream(ui, abortive: true)
            finishDelivery(d, work)
        case .finished:
            u.delivery = nil
            parkUpstream(ui, u)
            finishDelivery(d, work)
        }
    }

    /// Copies body bytes from the message file into the connection's send queue while it has
    /// room, then asks for the end of data. Reads are plain preads: the file was written
    /// moments ago (page cache) or is read once per attempt.
    func pumpDeliveryBody(_ d: SpoolDelivery, _ ui: Int, _ u: SMTPUpstreamConnection) {
        guard let work = spoolWork, !d.endRequested, u.delivery === d else { return }
        while d.readOffset < d.endOffset && u.out.freeBytes >= 4096 {
            let n = min(work.readBuffer.count, u.out.freeBytes, Int(d.endOffset - d.readOffset))
            let r = pread(d.fd, work.readBuffer.baseAddress, n, off_t(d.readOffset))
            guard r > 0 else {
                let reason = "spool read \(d.entry.id): \(r == 0 ? "file shorter than recorded" : errnoName(errno))"
                u.delivery = nil
                closeUpstream(ui, abortive: true)  // the body must not end early upstream
                return finishDelivery(d, work, failure: reason)
            }
            u.out.append(UnsafeRawBufferPointer(start: work.readBuffer.baseAddress, count: r))
            d.readOffset += Int64(r)
        }
        if d.readOffset >= d.endOffset && u.out.freeBytes >= 16 {
            d.endRequested = true
            d.streaming = false
            request(.endOfData, ui, u)
            return
        }
        sendToUpstream(ui, u)
    }

    /// Records the attempt's outcomes: delivered recipients are done, permanent failures are
    /// bounced, transient ones are scheduled again (or bounced once the message expired).
    func finishDelivery(_ d: SpoolDelivery, _ work: SMTPSpoolWork, failure: String? = nil) {
        if let failure { d.attempt.connectionFailed(failure) }
        close(d.fd)
        work.deliveriesInFlight -= 1
        let entry = d.entry
        entry.delivering = false
        guard work.entries[entry.id] === entry else { return }
        var progress = entry.message.progress
        let envelope = entry.message.envelope
        var bounces: [(Int, DeliveryStatusNotification.Failure)] = []
        var retry = false
        for (i, outcome) in d.attempt.outcomes.sorted(by: { $0.key < $1.key }) {
            switch outcome {
            case .delivered:
                progress.recipients[i] = SpoolProgress.Recipient(status: .delivered)
            case .permanent(let text):
                progress.recipients[i].lastError = text
                bounces.append((i, .init(recipient: envelope.recipients[i], diagnostic: text)))
            case .transient(let text):
                progress.recipients[i].lastError = text
                retry = true
            }
        }
        let now = SMTPSpoolWork.nowUnixMs()
        if retry {
            progress.attempts += 1
            if let next = config.retrySchedule.nextAttemptUnixMs(arrivalUnixMs: envelope.arrivalUnixMs,
                                                                 attempts: progress.attempts, nowUnixMs: now) {
                progress.nextAttemptUnixMs = next
            } else {
                // Expired: whoever is still pending (and not bounced above) is given up.
                let bounced = Set(bounces.map(\.0))
                for i in progress.pendingIndices where !bounced.contains(i) {
                    bounces.append((i, .init(recipient: envelope.recipients[i],
                                             diagnostic: "delivery time expired after \(progress.attempts) attempt(s); last error: \(progress.recipients[i].lastError)",
                                             status: "4.4.7")))
                }
                progress.nextAttemptUnixMs = now + config.retrySchedule.initialDelayMs
            }
        }
        if !bounces.isEmpty {
            if envelope.reversePath == "<>" || spoolBounce(envelope: envelope, failures: bounces.map(\.1), entry: entry, work) {
                for (i, _) in bounces { progress.recipients[i].status = .bounced }
                if envelope.reversePath == "<>" {
                    Log.info("worker \(workerIndex): spool: \(entry.id): \(bounces.count) recipient(s) failed; null sender, no DSN")
                }
            } else {
                // The DSN could not be stored: keep them pending, the next attempt bounces again.
                progress.nextAttemptUnixMs = max(progress.nextAttemptUnixMs, now + config.retrySchedule.initialDelayMs)
            }
        }
        entry.message.progress = progress
        if progress.isFinished { return removeEntry(entry, work) }
        work.directory.writeProgress(progress, id: entry.id)
        if progress.nextAttemptUnixMs <= now {
            work.enqueue(entry)
        } else {
            work.nextDeferredUnixMs = min(work.nextDeferredUnixMs, progress.nextAttemptUnixMs)
        }
    }

    func removeEntry(_ entry: SpoolQueueEntry, _ work: SMTPSpoolWork) {
        _ = work.directory.remove(id: entry.id)
        work.entries[entry.id] = nil
        work.shared.accounting.release(entry.message.fileBytes)
    }

    /// Stores a DSN for `failures` to the message's sender; false if it could not be stored.
    /// Rare, so it is written the simple way (synchronously, synced before the original's
    /// recipients are marked bounced). It does not count against the limit: a full spool must
    /// still be able to say that mail failed.
    func spoolBounce(envelope: SpoolEnvelope, failures: [DeliveryStatusNotification.Failure], entry: SpoolQueueEntry,
                     _ work: SMTPSpoolWork) -> Bool {
        var headBytes = [UInt8](repeating: 0, count: min(64 << 10, entry.message.bodyBytes))
        let fd = open(work.directory.messageFile(entry.id), O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            let n = headBytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(entry.message.bodyOffset)) }
            headBytes = n > 0 ? Array(headBytes[0..<n]) : []
            close(fd)
        } else {
            headBytes = []
        }
        let id = work.newID(workerIndex: workerIndex)
        let now = SMTPSpoolWork.nowUnixMs()
        let text = DeliveryStatusNotification.make(hostname: config.hostname, envelope: envelope, failures: failures,
                                                   originalBody: headBytes, nowUnixTime: Int(now / 1000), boundary: id + "/" + config.hostname)
        let dsn = SpoolEnvelope(id: id, arrivalUnixMs: now, reversePath: "<>", mailParameters: "", recipients: [envelope.reversePath])
        let body = DotStuffing.stuff(text)
        guard let size = work.directory.commitSynchronously(envelope: dsn, body: body) else {
            Log.warning("worker \(workerIndex): spool: cannot store the DSN for \(entry.id): \(errnoName(errno))")
            return false
        }
        work.shared.accounting.add(size)
        Log.info("worker \(workerIndex): spool: \(entry.id): \(failures.count) recipient(s) bounced; DSN \(id) to \(envelope.reversePath)")
        let dsnEntry = SpoolQueueEntry(SpooledMessage(envelope: dsn, bodyOffset: size - body.count, fileBytes: size,
                                                      progress: SpoolProgress(recipientCount: 1)))
        work.entries[id] = dsnEntry
        work.enqueue(dsnEntry)
        return true
    }

    /// Every tick: a flush from the operator makes everything due; deferred messages whose
    /// time came are queued.
    func spoolTick(_ work: SMTPSpoolWork) {
        let deleted = work.directory.deleteMarkerTimeNs()
        if deleted != work.deleteMarkerNs {
            work.deleteMarkerNs = deleted
            // `queue delete` ran: what is gone frees its share of --spool-max-bytes now.
            for entry in work.entries.values where !entry.delivering && access(work.directory.messageFile(entry.id), F_OK) != 0 {
                work.entries[entry.id] = nil
                work.shared.accounting.release(entry.message.fileBytes)
            }
        }
        let marker = work.directory.flushMarkerTimeNs()
        let now = SMTPSpoolWork.nowUnixMs()
        if marker != work.flushMarkerNs {
            work.flushMarkerNs = marker
            for entry in work.entries.values {
                entry.message.progress.nextAttemptUnixMs = 0
                work.enqueue(entry)
            }
            Log.info("worker \(workerIndex): spool: flush requested; \(work.entries.count) message(s) due now")
        } else if now >= work.nextDeferredUnixMs {
            var next = Int64.max
            for entry in work.entries.values where !entry.delivering && !entry.queued {
                if entry.message.progress.nextAttemptUnixMs <= now {
                    work.enqueue(entry)
                } else {
                    next = min(next, entry.message.progress.nextAttemptUnixMs)
                }
            }
            work.nextDeferredUnixMs = next
        }
        startDeliveries(work)
    }
}
