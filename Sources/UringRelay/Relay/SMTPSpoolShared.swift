import Synchronization

/// What the workers of one queue-mode relay share: the spool's place, its size accounting, and
/// the messages found at start-up, split among the workers (each delivers its own share; new
/// mail is delivered by the worker that accepted it). Nothing else crosses workers.
final class SMTPSpoolShared: Sendable {
    let directory: SpoolDirectory
    let accounting: SpoolAccounting
    private let found = Mutex<[[SpooledMessage]]>([])
    private let foundCount = Atomic<Int>(0)

    init(directory: SpoolDirectory, maxBytes: Int) {
        self.directory = directory
        accounting = SpoolAccounting(maxBytes: maxBytes)
    }

    var foundAtStart: Int { foundCount.load(ordering: .relaxed) }

    /// Opens (creating) the spool, empties tmp/ and shares out what queue/ holds.
    func open(workers: Int) throws(SpoolError) {
        let messages = try directory.open(create: true)
        var shares = Array(repeating: [SpooledMessage](), count: max(1, workers))
        for m in messages {
            accounting.add(m.fileBytes)
            shares[Self.owner(of: m.id, workers: shares.count)].append(m)
        }
        foundCount.store(messages.count, ordering: .relaxed)
        found.withLock { $0 = shares }
    }

    /// The worker's share of the messages found at start-up (once; later calls get none).
    func takeFound(worker: Int) -> [SpooledMessage] {
        found.withLock { shares in
            guard worker < shares.count else { return [] }
            defer { shares[worker] = [] }
            return shares[worker]
        }
    }

    /// FNV-1a of the id: stable across restarts with the same thread count.
    static func owner(of id: String, workers: Int) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Int(h % UInt64(max(1, workers)))
    }
}
