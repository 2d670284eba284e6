/// One RTSP session of a client: the tracks it set up on one path and how each is delivered.
final class RTSPSession {
    enum State: Equatable {
        /// Tracks set up, not playing.
        case ready
        case playing
        /// ANNOUNCE seen (publish paths): SETUP with mode=record, then RECORD.
        case announced
        case recording
    }

    enum Delivery: Equatable {
        case interleaved(rtp: UInt8, rtcp: UInt8)
        case udp(rtp: SocketAddress, rtcp: SocketAddress)
    }

    struct Track {
        var delivery: Delivery
        /// A new reader of an H.264 track gets nothing until a keyframe (from the cache or live).
        var waitingForKeyframe = true
    }

    let id: String
    let path: Int
    /// The connection that created it (slot and generation).
    let connectionSlot: Int
    let connectionGeneration: UInt32
    var state: State
    var tracks: [Track?]
    var lastActivityMs: Int64

    init(id: String, path: Int, connectionSlot: Int, connectionGeneration: UInt32, state: State, trackCount: Int, nowMs: Int64) {
        self.id = id
        self.path = path
        self.connectionSlot = connectionSlot
        self.connectionGeneration = connectionGeneration
        self.state = state
        tracks = Array(repeating: nil, count: trackCount)
        lastActivityMs = nowMs
    }

    var isPublisher: Bool { state == .announced || state == .recording }
    var usesUDP: Bool {
        tracks.contains { t in
            if case .udp = t?.delivery { return true }
            return false
        }
    }
    var usesInterleaved: Bool {
        tracks.contains { t in
            if case .interleaved = t?.delivery { return true }
            return false
        }
    }
}
