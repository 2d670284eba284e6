import Synchronization

/// Bytes held by the spool, shared by every worker of one relay: a message reserves its
/// bytes before they are written and gives them back when it is removed, so the spool never
/// grows past `--spool-max-bytes` whatever the interleaving (new mail then gets 452 4.3.1).
public final class SpoolAccounting: Sendable {
    public let maxBytes: Int
    private let used = Atomic<Int>(0)

    public init(maxBytes: Int) { self.maxBytes = maxBytes }

    public var usedBytes: Int { used.load(ordering: .relaxed) }
    public var isFull: Bool { usedBytes >= maxBytes }

    /// Takes `bytes` if they fit under the limit; false (nothing taken) if not.
    public func reserve(_ bytes: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            guard current + bytes <= maxBytes else { return false }
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    /// Counts bytes already on disk (found at start-up), even past the limit.
    public func add(_ bytes: Int) { used.add(bytes, ordering: .relaxed) }

    public func release(_ bytes: Int) { used.subtract(bytes, ordering: .relaxed) }
}
