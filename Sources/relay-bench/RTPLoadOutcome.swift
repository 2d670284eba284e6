import UringRelay

/// What one RTPLoad run measured and found wrong.
struct RTPLoadOutcome {
    var receivers: Int
    var packetRate: Int
    var packetBytes: Int
    var packetsSent = 0
    /// Datagrams the receivers should have got (packets sent × receivers) and got, in order.
    var expectedDatagrams = 0
    var receivedDatagrams = 0
    /// Received datagrams sent inside the measured window.
    var measuredDatagrams = 0
    var measuredSeconds = 0.0
    var histogram = LatencyHistogram()
    var relayCPUSeconds: Double?
    var problems: [String] = []

    var lostDatagrams: Int { max(0, expectedDatagrams - receivedDatagrams) }
    var lossPercent: Double { expectedDatagrams == 0 ? 0 : 100 * Double(lostDatagrams) / Double(expectedDatagrams) }
    var deliveredPerSecond: Double { measuredSeconds > 0 ? Double(measuredDatagrams) / measuredSeconds : 0 }
    var relayCPUSecondsPerMillionDatagrams: Double? {
        guard let cpu = relayCPUSeconds, measuredDatagrams > 0 else { return nil }
        return cpu / Double(measuredDatagrams) * 1e6
    }
    var valid: Bool { problems.isEmpty }
}
