/// One track (m= section) of a path: the rewriting that keeps its RTP continuous across
/// source sessions, its codec parameters and the packets since its last keyframe.
final class RTSPTrack {
    var media: SessionDescription.Media
    let clockRate: Int
    let isH264: Bool
    var continuity: RTPContinuity
    var h264: H264Parameters
    /// Packets since the last keyframe (arena references held), oldest first.
    var cache: [PacketArena.Ref] = []
    var cacheBytes = 0
    /// The cache starts at a keyframe and is complete since then.
    var cacheValid = false
    /// The (source) RTP timestamp of the keyframe the cache starts with.
    var cacheKeyframeTimestamp: UInt32 = 0
    /// Reception statistics of the current source session (for our receiver reports).
    var stats: RTPStreamStats?
    var lastPacketMs: Int64 = 0
    var packetsTotal = 0
    /// From the source's last sender report: the middle 32 bits of its NTP time and when it came.
    var lastSenderReportNTP: UInt32 = 0
    var lastSenderReportAtMs: Int64 = 0
    /// The last packet delivered (after rewriting), for RTP-Info.
    var lastOutputSequence: UInt16 = 0
    var lastOutputTimestamp: UInt32 = 0
    var payloadType: UInt8

    init(media: SessionDescription.Media, outputSSRC: UInt32) {
        self.media = media
        // An SDP may say H264/0: a clock rate must be positive for statistics and continuity.
        clockRate = media.clockRate.map { $0 > 0 ? $0 : 90_000 } ?? 90_000
        isH264 = media.encodingName?.uppercased() == "H264"
        continuity = RTPContinuity(outputSSRC: outputSSRC, sequenceGapAtRestart: isH264 ? 1 : 0)
        h264 = media.fmtp.map(H264Parameters.fromFmtp) ?? H264Parameters()
        payloadType = UInt8(truncatingIfNeeded: media.payloadType ?? 96)
    }

    func clearCache(_ arena: PacketArena) {
        for r in cache { arena.release(r) }
        cache.removeAll(keepingCapacity: true)
        cacheBytes = 0
        cacheValid = false
    }
}
