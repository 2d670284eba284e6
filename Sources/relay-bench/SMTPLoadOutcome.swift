import UringRelay

/// One SMTP load run: what was measured and why it is invalid, if it is.
struct SMTPLoadOutcome {
    var sessions: Int
    var messageOctets: Int
    /// Offered rate of an open-loop run; nil for closed loop (saturation).
    var offeredRate: Int?
    /// Final 250s in the measured window.
    var measuredMessages = 0
    var measuredSeconds: Double = 0
    /// Final 250s that arrived inside the measured window, whenever the message was due (open
    /// loop: below the offered rate when the relay cannot keep up).
    var completedInWindow = 0
    /// Every final 250 of the run, warm-up included; each was found intact at the sink.
    var acceptedMessages = 0
    /// MAIL FROM (intended time) to final 250, ns, messages started after the warm-up.
    var histogram = LatencyHistogram()
    /// Relay CPU seconds in the measured window; nil without a relay process.
    var relayCPUSeconds: Double?
    /// Connections the sink accepted during the run: upstream connections the relay opened
    /// (it may also reuse ones it kept from an earlier run).
    var upstreamConnections = 0
    /// RSETs the sink received during the run.
    var upstreamResets = 0
    /// Messages the sink received over the whole run (warm-up included) divided by the time from
    /// the start to the last one's arrival: the rate that reached the sink, which for a
    /// store-and-forward relay is not the rate of its 250s.
    var deliveredPerSecond: Double?
    var problems: [String] = []

    var valid: Bool { problems.isEmpty }
    var messagesPerSecond: Double { measuredSeconds > 0 ? Double(measuredMessages) / measuredSeconds : 0 }
    /// Completions per second in the window, or before an early stop (CompletionRate).
    var windowRate: Double = 0
    var mebibytesPerSecond: Double { messagesPerSecond * Double(messageOctets) / 1_048_576 }
    var relayCPUSecondsPer1kMessages: Double? {
        guard let cpu = relayCPUSeconds, measuredMessages > 0 else { return nil }
        return cpu / (Double(measuredMessages) / 1000)
    }
}
