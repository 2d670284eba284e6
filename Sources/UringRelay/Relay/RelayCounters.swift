import Synchronization

/// Counters shared by all workers of one relay. Each is written with relaxed atomics: they
/// are for limits (`activeConnections`) and for reports, never for ordering other memory.
public final class RelayCounters: Sendable {
    public let activeConnections = Atomic<Int>(0)
    public let connectionsAcceptedTotal = Atomic<Int>(0)
    public let connectionsRefusedTotal = Atomic<Int>(0)
    public let upstreamConnectFailuresTotal = Atomic<Int>(0)
    public let connectionsClosedTotal = Atomic<Int>(0)
    public let bytesRelayedTotal = Atomic<Int>(0)
    /// SMTP: messages whose end of data the upstream accepted (and our client got 250 for).
    public let messagesRelayedTotal = Atomic<Int>(0)
    /// RTSP: sessions playing now, and packets handed to readers (one per packet per reader).
    public let readersActive = Atomic<Int>(0)
    public let packetsDeliveredTotal = Atomic<Int>(0)
    /// RTSP: readers dropped because they did not keep up.
    public let readersDroppedTotal = Atomic<Int>(0)

    public init() {}

    /// Counts a newly accepted client in, unless `limit` clients are open across the workers
    /// already: then it is counted as refused and false is returned. Workers share no other
    /// state, so this one atomic is what makes --max-conns hold across them.
    public func admitConnection(limit: Int) -> Bool {
        if activeConnections.add(1, ordering: .relaxed).newValue <= limit {
            connectionsAcceptedTotal.add(1, ordering: .relaxed)
            return true
        }
        activeConnections.subtract(1, ordering: .relaxed)
        connectionsRefusedTotal.add(1, ordering: .relaxed)
        return false
    }

    /// Undoes an admission the worker could not honour (no free slot): the client is refused.
    public func revokeAdmission() {
        activeConnections.subtract(1, ordering: .relaxed)
        connectionsAcceptedTotal.subtract(1, ordering: .relaxed)
        connectionsRefusedTotal.add(1, ordering: .relaxed)
    }

    public struct Snapshot: Sendable, Equatable {
        public var activeConnections: Int
        public var connectionsAcceptedTotal: Int
        public var connectionsRefusedTotal: Int
        public var upstreamConnectFailuresTotal: Int
        public var connectionsClosedTotal: Int
        public var bytesRelayedTotal: Int
        public var messagesRelayedTotal: Int
        public var readersActive: Int = 0
        public var packetsDeliveredTotal: Int = 0
        public var readersDroppedTotal: Int = 0
    }

    public func snapshot() -> Snapshot {
        Snapshot(activeConnections: activeConnections.load(ordering: .relaxed),
                 connectionsAcceptedTotal: connectionsAcceptedTotal.load(ordering: .relaxed),
                 connectionsRefusedTotal: connectionsRefusedTotal.load(ordering: .relaxed),
                 upstreamConnectFailuresTotal: upstreamConnectFailuresTotal.load(ordering: .relaxed),
                 connectionsClosedTotal: connectionsClosedTotal.load(ordering: .relaxed),
                 bytesRelayedTotal: bytesRelayedTotal.load(ordering: .relaxed),
                 messagesRelayedTotal: messagesRelayedTotal.load(ordering: .relaxed),
                 readersActive: readersActive.load(ordering: .relaxed),
                 packetsDeliveredTotal: packetsDeliveredTotal.load(ordering: .relaxed),
                 readersDroppedTotal: readersDroppedTotal.load(ordering: .relaxed))
    }
}
