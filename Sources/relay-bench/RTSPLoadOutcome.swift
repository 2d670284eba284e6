import UringRelay

/// What one RTSPLoad run measured and found wrong.
struct RTSPLoadOutcome {
    var transport: RTSPTransport.LowerTransport
    var readersOpened: Int
    var bitsPerSecond: Int
    /// Readers whose DESCRIBE/SETUP/PLAY succeeded.
    var readersPlaying = 0
    /// Readers still playing at the end: connection open, and packets from the last part of
    /// the window received.
    var readersHeld = 0
    /// Readers whose first packet (before any media) was the STAP-A with SPS and PPS.
    var readersGivenParameterSets = 0
    /// Per playing reader with a keyframe: PLAY sent → first packet of a keyframe received.
    var firstFrameNs: [UInt64] = []
    /// Packets the publisher sent in the measured window (each reader should get them all),
    /// and what the readers got of them together.
    var windowPackets = 0
    var receivedInWindow = 0
    var measuredSeconds = 0.0
    var packetsSent = 0
    var histogram = LatencyHistogram()
    var relayCPUSeconds: Double?
    var publisherMaxLagNs: UInt64 = 0
    var problems: [String] = []

    var expectedInWindow: Int { windowPackets * readersOpened }
    var lostPackets: Int { max(0, expectedInWindow - receivedInWindow) }
    var lossPercent: Double { expectedInWindow == 0 ? 0 : 100 * Double(lostPackets) / Double(expectedInWindow) }
    var deliveredPerSecond: Double { measuredSeconds > 0 ? Double(receivedInWindow) / measuredSeconds : 0 }
    var relayCPUPercent: Double? { relayCPUSeconds.map { measuredSeconds > 0 ? 100 * $0 / measuredSeconds : 0 } }
    var relayCPUSecondsPerMillionPackets: Double? {
        guard let cpu = relayCPUSeconds, receivedInWindow > 0 else { return nil }
        return cpu / Double(receivedInWindow) * 1e6
    }

    /// Quantile `q` of the time to first frame, nil without samples (nearest rank).
    func firstFrameMs(atQuantile q: Double) -> Double? {
        guard !firstFrameNs.isEmpty else { return nil }
        let s = firstFrameNs.sorted()
        let rank = min(s.count - 1, max(0, Int((q * Double(s.count)).rounded(.up)) - 1))
        return Double(s[rank]) / 1e6
    }

    var valid: Bool { problems.isEmpty }
}
