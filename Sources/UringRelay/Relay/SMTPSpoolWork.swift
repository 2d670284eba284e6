import Glibc

/// A queue-mode worker's spool state: messages being committed, the group commit, and the
/// delivery index of the messages this worker delivers.
final class SMTPSpoolWork {
    let shared: SMTPSpoolShared
    var directory: SpoolDirectory { shared.directory }
    /// queue/, opened once: its fsync is the commit point of every message.
    let queueDirFd: Int32

    var incoming: [UInt32: SpoolIncomingMessage] = [:]
    var nextIncomingSlot: UInt32 = 0
    /// Renamed into queue/ since the directory sync in flight was issued: the next sync covers them.
    var awaitingDirectorySync: [SpoolIncomingMessage] = []
    /// Covered by the sync in flight; their 250s go out when it completes.
    var inDirectorySync: [SpoolIncomingMessage] = []
    var directorySyncInFlight = false

    var entries: [String: SpoolQueueEntry] = [:]
    var due: [SpoolQueueEntry] = []
    var dueHead = 0
    var deliveriesInFlight = 0
    /// Earliest next attempt among deferred entries (Unix ms); Int64.max: none.
    var nextDeferredUnixMs = Int64.max
    var flushMarkerNs: Int64
    var deleteMarkerNs: Int64
    var idSequence = 0
    /// Body bytes read from a message file on their way to an upstream's send queue.
    let readBuffer: UnsafeMutableRawBufferPointer

    init(shared: SMTPSpoolShared, workerIndex: Int) throws(SystemError) {
        self.shared = shared
        let fd = open(shared.directory.queuePath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.lastError("open \(shared.directory.queuePath)") }
        queueDirFd = fd
        flushMarkerNs = shared.directory.flushMarkerTimeNs()
        deleteMarkerNs = shared.directory.deleteMarkerTimeNs()
        readBuffer = .allocate(byteCount: 64 << 10, alignment: 16)
        for m in shared.takeFound(worker: workerIndex) {
            let entry = SpoolQueueEntry(m)
            entries[m.id] = entry
            enqueue(entry)  // due at once at start, whatever the schedule said
        }
    }

    deinit {
        close(queueDirFd)
        readBuffer.deallocate()
    }

    func enqueue(_ entry: SpoolQueueEntry) {
        guard !entry.queued, !entry.delivering else { return }
        entry.queued = true
        due.append(entry)
    }

    func popDue() -> SpoolQueueEntry? {
        while dueHead < due.count {
            let e = due[dueHead]
            dueHead += 1
            if dueHead > 1024 && dueHead * 2 > due.count {
                due.removeFirst(dueHead)
                dueHead = 0
            }
            e.queued = false
            if entries[e.id] === e && !e.delivering { return e }
        }
        due.removeAll(keepingCapacity: true)
        dueHead = 0
        return nil
    }

    var hasDue: Bool { dueHead < due.count }

    func newIncomingSlot() -> UInt32 {
        repeat {
            nextIncomingSlot = (nextIncomingSlot &+ 1) % (RelayTag.controlSlot - 1)
        } while incoming[nextIncomingSlot] != nil
        return nextIncomingSlot
    }

    /// Unique across workers and restarts: wall-clock µs, worker, sequence (base 36).
    func newID(workerIndex: Int) -> String {
        idSequence += 1
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let us = Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
        return String(us, radix: 36, uppercase: true) + "." + String(workerIndex, radix: 36, uppercase: true)
            + "." + String(idSequence, radix: 36, uppercase: true)
    }

    static func nowUnixMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
