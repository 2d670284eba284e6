/// One stream readers ask for by name: where it comes from, its tracks, who watches it.
final class RTSPPath {
    let spec: RTSPPathSpec
    let index: Int
    /// The source's SDP as last described (pull) or announced (publish).
    var description: SessionDescription?
    /// What readers get from DESCRIBE.
    var cleanSDP: [UInt8] = []
    var tracks: [RTSPTrack] = []
    /// Media is flowing: a source session is playing, or a publisher is recording.
    var live = false
    /// Sessions playing this path.
    var readers: [RTSPSession] = []
    /// Sessions on this path that are not playing (set up, paused, announcing).
    var idleSessions = 0
    /// Connections whose DESCRIBE waits for the source (slot, generation).
    var parked: [(slot: Int, generation: UInt32)] = []

    // Pull paths: the source connection and its schedule.
    var sourceSlot: Int?
    var sourceGeneration: UInt32 = 0
    var sourcePlaying = false
    var nextAttemptMs: Int64 = 0
    var retryDelayMs = 0
    /// When the path last had nobody (readers, sessions, parked requests), for on-demand close.
    var unusedSinceMs: Int64?
    var lastSourceFailure: String?
    var sourceSessionsTotal = 0
    /// When the last source session ended (for the timestamp jump across a reconnect).
    var lastMediaMs: Int64 = 0

    // Publish paths.
    var publisherSessionID: String?

    init(spec: RTSPPathSpec, index: Int) {
        self.spec = spec
        self.index = index
    }

    var pullURL: RTSPURL? {
        if case .pull(let url, _) = spec.source { return url }
        return nil
    }

    var alwaysOn: Bool {
        if case .pull(_, let always) = spec.source { return always }
        return false
    }

    var isPublish: Bool { spec.source == .publish }

    /// Somebody wants the stream: readers, other sessions, or a parked DESCRIBE.
    var isWanted: Bool { !readers.isEmpty || idleSessions > 0 || !parked.isEmpty }
}
