import Glibc
import UringRelay

/// SMTP workload: `sessions` client sessions to `port` (the relay, or the sink itself in tests),
/// each: connect, 220, EHLO, then MAIL FROM / RCPT TO / DATA / message / "." in a loop (MAIL,
/// RCPT and DATA in one write when the server offers PIPELINING), QUIT at the end.
///
/// - Closed loop (saturation): a session starts its next message as soon as the previous
///   one's final 250 arrives; messages/s counts the final 250s inside the measured window.
/// - Open loop: message k is due at t0 + k/rate whatever happened before; due messages go to
///   idle sessions in order, and latency runs from the due time, so a stalled relay shows up
///   as latency rather than as fewer messages sent (no coordinated omission).
///
/// Latency: final 250 minus MAIL FROM's intended time, for messages started after the
/// warm-up. Every reply code is checked. After the run each accepted message is looked up at
/// the sink: there exactly once, digest and size as sent, with the expected number of Received
/// fields in front; anything else makes the run invalid.
struct SMTPLoad {
    enum Pacing {
        case closedLoop
        case openLoop(messagesPerSecond: Int)
    }

    var port: UInt16
    /// The relay, for its CPU time; nil when the load goes straight to the sink.
    var relayPid: pid_t?
    var sessions: Int
    var template: BenchMailTemplate
    var pacing: Pacing
    var warmupNs: UInt64
    var durationNs: UInt64
    /// Tells this run's messages from any other run's at the sink.
    var run: UInt16
    var cpu: Int?
    var sink: SMTPSink
    /// Received fields in front of each message at the sink: 1 through the smtp relay (it adds
    /// its own), 0 through a TCP relay or with no relay.
    var expectedReceivedFields: Int
    var setupTimeoutNs: UInt64 = 10_000_000_000
    var drainNs: UInt64 = 5_000_000_000
    /// Open loop: a message finished (or still waiting for a session) this long after its due
    /// time ends the run as "fell behind", so an overloaded sweep step stops early; nil: no limit.
    var maxLatencyNs: UInt64? = nil
    /// A store-and-forward relay (Postfix) answers the final 250 once the message is queued and
    /// delivers it later: after the run, wait this long at most for the sink to have every
    /// accepted message before checking them (a cut-through relay has delivered them already).
    var deliveryTimeoutNs: UInt64 = 30_000_000_000

    func execute() -> SMTPLoadOutcome {
        var outcome = SMTPLoadOutcome(sessions: sessions, messageOctets: template.size)
        if case .openLoop(let rate) = pacing { outcome.offeredRate = rate }
        // Whatever the sink saw between runs (a relay closing its upstream connections as it
        // stops) belongs to no run; a problem there is reported, not blamed on this run.
        let before = sink.take()
        if before.problemCount > 0 {
            Console.err("smtp: the sink saw \(before.problemCount) problem(s) between runs: \(before.problems.joined(separator: "; "))")
        }

        let driver: SMTPLoadDriver
        do { driver = try SMTPLoadDriver(load: self) } catch {
            outcome.problems.append("\(error)")
            return outcome
        }
        let clients = driver.run()
        outcome.histogram = driver.histogram
        outcome.measuredMessages = driver.measuredMessages
        outcome.acceptedMessages = driver.acceptedMessages
        outcome.completedInWindow = driver.completedInWindow
        outcome.windowRate = CompletionRate.perSecond(inWindow: driver.completedInWindow, total: driver.acceptedMessages,
                                                                start: driver.startNs, window: driver.window, stoppedAt: driver.fellBehindAtNs)
        outcome.measuredSeconds = Double(durationNs) / 1e9
        outcome.relayCPUSeconds = driver.relayCPUSeconds
        outcome.problems += driver.problems
        if driver.problemCount > driver.problems.count {
            outcome.problems.append("(\(driver.problemCount - driver.problems.count) more client problems)")
        }
        if driver.problemCount == 0 && outcome.measuredMessages == 0 {
            outcome.problems.append("no message completed in the measured window")
        }

        // Bounded wait for deliveries still on their way (the sink thread counts them).
        let deliveryDeadline = MonotonicClock.nowNs() + deliveryTimeoutNs
        while sink.messageCount < driver.acceptedMessages && MonotonicClock.nowNs() < deliveryDeadline {
            var ts = timespec(tv_sec: 0, tv_nsec: 5_000_000)  // polling interval of the sink's count
            nanosleep(&ts, nil)
        }
        let seen = sink.take()
        if seen.lastMessageNs > driver.startNs && driver.acceptedMessages > 0 {
            outcome.deliveredPerSecond = Double(seen.messages.count) / (Double(seen.lastMessageNs - driver.startNs) / 1e9)
        }
        outcome.upstreamConnections = seen.connections
        outcome.upstreamResets = seen.resets
        outcome.problems += seen.problems.map { "sink: \($0)" }
        if seen.problemCount > seen.problems.count {
            outcome.problems.append("sink: (\(seen.problemCount - seen.problems.count) more)")
        }
        outcome.problems += verify(seen.messages, clients: clients)
        return outcome
    }

    /// Every accepted message at the sink once and intact; nothing the clients did not see accepted.
    private func verify(_ messages: [BenchMailSummary], clients: [SMTPClientSession]) -> [String] {
        var accepted = [UInt32](repeating: 0, count: sessions)
        for c in clients { accepted[Int(c.index)] = c.accepted }
        var found = accepted.map { [Bool](repeating: false, count: Int($0)) }
        var delivered = 0, duplicates = 0, unacknowledged = 0, withoutID = 0
        var corrupted = 0, wrongTrace = 0, bareLF = 0
        for m in messages {
            guard let id = m.id, m.idFields == 1 else { withoutID += 1; continue }
            guard id.run == run else { continue }  // a late message of another run is that run's business
            guard Int(id.session) < sessions, id.sequence < accepted[Int(id.session)] else { unacknowledged += 1; continue }
            if found[Int(id.session)][Int(id.sequence)] { duplicates += 1; continue }
            found[Int(id.session)][Int(id.sequence)] = true
            delivered += 1
            if m.digest != template.expectedDigest || m.octets != template.expectedOctets { corrupted += 1 }
            if m.receivedFields != expectedReceivedFields { wrongTrace += 1 }
            if m.bareLineEndings > 0 { bareLF += 1 }
        }
        var problems: [String] = []
        let total = accepted.reduce(0) { $0 + Int($1) }
        if delivered < total { problems.append("\(total - delivered) of \(total) accepted messages missing at the sink") }
        if duplicates > 0 { problems.append("\(duplicates) messages delivered twice") }
        if unacknowledged > 0 { problems.append("\(unacknowledged) messages at the sink that no client saw accepted") }
        if withoutID > 0 { problems.append("\(withoutID) messages at the sink without one valid \(BenchMailID.headerName)") }
        if corrupted > 0 { problems.append("\(corrupted) messages differ from what was sent (digest or size)") }
        if wrongTrace > 0 { problems.append("\(wrongTrace) messages without exactly \(expectedReceivedFields) Received field(s) in front") }
        if bareLF > 0 { problems.append("\(bareLF) messages with bare LF line endings") }
        return problems
    }
}
