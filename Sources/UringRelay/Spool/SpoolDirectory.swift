import Glibc
import Synchronization

/// The on-disk spool, version 1:
///
///     DIR/VERSION        "uring-relay spool 1": a spool of another version is refused
///     DIR/tmp/           messages being received and state files being replaced; emptied at
///                        start-up (what is there belongs to sessions that never got a 250)
///     DIR/queue/ID       committed messages: `SpoolEnvelope` header, then the body
///     DIR/queue/ID.state delivery progress (`SpoolProgress`), absent until the first attempt
///     DIR/flush          touched by `uring-relay queue flush`: every message is due now
///
/// A message is committed by writing tmp/ID, fdatasync, rename into queue/, fsync of queue/:
/// only then has it a name in queue/, so nothing half-written is ever delivered. The relay's
/// hot path does the write and the syncs through the engine; what is here is synchronous, for
/// start-up, the operator commands and the rare writes (state files, DSNs).
public struct SpoolDirectory: Sendable {
    public static let versionLine = "uring-relay spool 1"
    public let path: String

    public init(path: String) {
        // Trailing slashes would double in every path built below.
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        self.path = p
    }

    public var tmpPath: String { path + "/tmp" }
    public var queuePath: String { path + "/queue" }
    public var flushMarkerPath: String { path + "/flush" }
    /// Touched by `uring-relay queue delete`: the running relay drops what is gone from its
    /// index (and the spool bytes it counted) within a tick, not at the message's next retry.
    public var deleteMarkerPath: String { path + "/deleted" }
    public func tmpFile(_ name: String) -> String { tmpPath + "/" + name }
    public func messageFile(_ id: String) -> String { queuePath + "/" + id }
    public func stateFile(_ id: String) -> String { queuePath + "/" + id + ".state" }

    /// Queue ids the relay makes: base-36 digits and dots. Anything else given to
    /// `queue delete` cannot name one of our files (and cannot walk out of queue/).
    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64 && !id.hasPrefix(".")
            && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || $0 == 0x2E }
    }

    // MARK: - Start-up

    /// Creates the layout if missing, checks the version, empties tmp/ and returns every
    /// committed message. `create` false (operator commands): a missing spool is an error.
    public func open(create: Bool) throws(SpoolError) -> [SpooledMessage] {
        var st = stat()
        if stat(path, &st) != 0 {
            guard create, errno == ENOENT else { throw SpoolError("spool \(path): \(errnoText(errno))") }
            guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw SpoolError("cannot create spool \(path): \(errnoText(errno))") }
        } else if st.st_mode & S_IFMT != S_IFDIR {
            throw SpoolError("spool \(path) is not a directory")
        }
        let version = readFile(path + "/VERSION").map { String(decoding: $0, as: UTF8.self) }
        if let version {
            let line = version.split(separator: "\n").first.map(String.init) ?? ""
            guard line == Self.versionLine else {
                throw SpoolError("spool \(path) has format \"\(line)\"; this relay reads \"\(Self.versionLine)\"")
            }
        } else {
            guard create else { throw SpoolError("\(path) is not a spool (no VERSION file)") }
            // An empty directory becomes a spool; one holding other things is not ours to fill.
            if !Set(listDirectory(path)).subtracting(["tmp", "queue", "lock", "flush", "deleted"]).isEmpty {
                throw SpoolError("\(path) is not empty and has no VERSION file: not a spool of ours")
            }
            guard writeDurably(path + "/VERSION", Array((Self.versionLine + "\n").utf8), temporary: path + "/.VERSION.tmp") else {
                throw SpoolError("cannot write \(path)/VERSION: \(errnoText(errno))")
            }
        }
        for dir in [tmpPath, queuePath] {
            guard mkdir(dir, 0o700) == 0 || errno == EEXIST else { throw SpoolError("cannot create \(dir): \(errnoText(errno))") }
        }
        if create {
            // One relay per spool: a second would empty the first's tmp/ under it and deliver
            // its messages a second time.
            try lockForThisProcess()
            for name in listDirectory(tmpPath) { unlink(tmpFile(name)) }
            syncDirectory(path)
        }
        var messages: [SpooledMessage] = []
        let names = listDirectory(queuePath)
        let nameSet = Set(names)
        for name in names {
            if name.hasSuffix(".state") {
                // A state file whose message is gone (deleted, or delivered before a crash).
                if create && !nameSet.contains(String(name.dropLast(6))) { unlink(queuePath + "/" + name) }
                continue
            }
            guard let m = read(id: name) else {
                // Gone between the listing and the read (a running relay delivered it): not
                // worth a word. Still there and unreadable: that is.
                if access(messageFile(name), F_OK) == 0 {
                    Log.warning("spool: skipping \(messageFile(name)): not a readable spool file")
                }
                continue
            }
            messages.append(m)
        }
        return messages.sorted { $0.envelope.arrivalUnixMs < $1.envelope.arrivalUnixMs }
    }

    /// Spools this process holds locked (path → fd of DIR/lock, kept open until exit: the
    /// kernel drops the flock when the process ends, however it ends).
    private static let heldLocks = Mutex<[String: Int32]>([:])

    private func lockForThisProcess() throws(SpoolError) {
        if Self.heldLocks.withLock({ $0[path] != nil }) { return }
        let fd = Glibc.open(path + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError("cannot open \(path)/lock: \(errnoText(errno))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            close(fd)
            if e == EWOULDBLOCK { throw SpoolError("spool \(path) is in use by another relay (it holds \(path)/lock)") }
            throw SpoolError("cannot lock \(path)/lock: \(errnoText(e))")
        }
        Self.heldLocks.withLock { $0[path] = fd }
    }

    /// Gives up this process's lock on the spool (tests that restart a relay in-process).
    public func unlock() {
        Self.heldLocks.withLock { held in
            if let fd = held.removeValue(forKey: path) { close(fd) }
        }
    }

    /// One committed message: envelope, where its body starts, its progress.
    public func read(id: String) -> SpooledMessage? {
        let fd = Glibc.open(messageFile(id), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        var head: [UInt8] = []
        var chunk = 4096
        while true {
            var buffer = [UInt8](repeating: 0, count: chunk)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, chunk, off_t(head.count)) }
            if n > 0 { head += buffer[0..<n] }
            switch SpoolEnvelope.parse(head) {
            case .complete(let envelope, let bodyOffset):
                guard envelope.id == id else { return nil }
                let progress = readFile(stateFile(id)).flatMap { SpoolProgress.parse($0, recipientCount: envelope.recipients.count) }
                    ?? SpoolProgress(recipientCount: envelope.recipients.count)
                return SpooledMessage(envelope: envelope, bodyOffset: bodyOffset, fileBytes: Int(st.st_size), progress: progress)
            case .invalid:
                return nil
            case .needMore:
                if n <= 0 { return nil }
                chunk = min(chunk * 2, 1 << 20)
            }
        }
    }

    // MARK: - Synchronous writes

    /// Replaces `queue/ID.state` (written in tmp/, renamed over). Not synced: a lost update
    /// only repeats a delivery.
    @discardableResult
    public func writeProgress(_ progress: SpoolProgress, id: String) -> Bool {
        let tmp = tmpFile(id + ".state")
        guard writeFile(tmp, progress.encoded(), sync: false) else { return false }
        guard rename(tmp, stateFile(id)) == 0 else {
            unlink(tmp)
            return false
        }
        return true
    }

    /// Commits a message the relay writes itself (a DSN) the slow, simple way: write, fdatasync,
    /// rename, fsync the queue directory. Returns the file size, or nil (nothing left behind).
    public func commitSynchronously(envelope: SpoolEnvelope, body: [UInt8]) -> Int? {
        let bytes = envelope.encodedHeader() + body
        let tmp = tmpFile(envelope.id)
        guard writeFile(tmp, bytes, sync: true) else { return nil }
        guard rename(tmp, messageFile(envelope.id)) == 0 else {
            unlink(tmp)
            return nil
        }
        syncDirectory(queuePath)
        return bytes.count
    }

    /// Removes a message and its state (state first: a crash between leaves a message that
    /// is delivered again, never a state file that outlives its message for long).
    public func remove(id: String) -> Bool {
        unlink(stateFile(id))
        return unlink(messageFile(id)) == 0
    }

    /// Makes every message due now in a running relay (it watches the marker's time), and
    /// in the state files for a relay started later.
    public func touchFlushMarker() -> Bool {
        writeFile(flushMarkerPath, Array("\(time(nil))\n".utf8), sync: false)
    }

    /// The flush marker's modification time in ns, 0 if there is none.
    public func flushMarkerTimeNs() -> Int64 { markerTimeNs(flushMarkerPath) }

    public func touchDeleteMarker() -> Bool {
        writeFile(deleteMarkerPath, Array("\(time(nil))\n".utf8), sync: false)
    }

    public func deleteMarkerTimeNs() -> Int64 { markerTimeNs(deleteMarkerPath) }

    private func markerTimeNs(_ file: String) -> Int64 {
        var st = stat()
        guard stat(file, &st) == 0 else { return 0 }
        return Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }

    /// Whether a relay holds this spool now (its flock on DIR/lock): operator commands then
    /// leave the state files to it and only touch the markers it watches.
    public func isInUse() -> Bool {
        let fd = Glibc.open(path + "/lock", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }

    // MARK: - Helpers

    func writeFile(_ path: String, _ bytes: [UInt8], sync: Bool) -> Bool {
        let fd = Glibc.open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let e = errno
                close(fd)
                unlink(path)
                errno = e
                return false
            }
            done += n
        }
        if sync && fdatasync(fd) != 0 {
            let e = errno
            close(fd)
            unlink(path)
            errno = e
            return false
        }
        close(fd)
        return true
    }

    func writeDurably(_ path: String, _ bytes: [UInt8], temporary: String) -> Bool {
        guard writeFile(temporary, bytes, sync: true) else { return false }
        guard rename(temporary, path) == 0 else { return false }
        syncDirectory(self.path)
        return true
    }

    func syncDirectory(_ path: String) {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    func readFile(_ path: String) -> [UInt8]? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 65536) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            out += buffer[0..<n]
        }
        return out
    }

    func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    func errnoText(_ e: Int32) -> String { "\(String(cString: strerror(e))) (\(errnoName(e)))" }
}
