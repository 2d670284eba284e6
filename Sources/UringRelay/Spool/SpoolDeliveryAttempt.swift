/// One delivery of a spooled message over an upstream connection, as a pure state machine:
/// the glue asks `SMTPUpstreamClient` for MAIL, one RCPT per pending recipient and DATA all at
/// once (pipelined when the upstream allows), then feeds the replies here in order; this says
/// when to send the body and, at the end, the outcome of every recipient tried.
///
/// Outcomes per recipient: a refused MAIL gives its reply to all; a refused RCPT to that
/// recipient; a refused DATA or end of data to the recipients whose RCPT was accepted.
public struct SpoolDeliveryAttempt: Sendable {
    public enum Step: Equatable, Sendable {
        case mail
        case rcpt(Int)
        case data
        case endOfData
        case finished
    }

    public enum Next: Equatable, Sendable {
        /// Wait for the next reply.
        case wait
        /// DATA got its 354: stream the body, then ask for the end of data.
        case sendBody
        /// 354 arrived with no recipient accepted (a server that said yes to DATA anyway): the
        /// body must not go; drop the connection (an empty message would be delivered).
        case abandonConnection
        /// Every outcome is known.
        case finished
    }

    /// Indices (into the envelope's recipients) tried in this attempt, in RCPT order.
    public let recipients: [Int]
    public private(set) var step: Step = .mail
    public private(set) var outcomes: [Int: SpoolRecipientOutcome] = [:]
    private var mailRefusal: SpoolRecipientOutcome?
    private var accepted: [Int] = []

    public init(recipients: [Int]) {
        precondition(!recipients.isEmpty, "a delivery needs a recipient")
        self.recipients = recipients
    }

    public var isFinished: Bool { step == .finished }

    public mutating func replied(_ reply: SMTPReply) -> Next {
        let outcome = SpoolRecipientOutcome.from(reply)
        switch step {
        case .mail:
            if outcome != .delivered { mailRefusal = outcome }
            step = .rcpt(0)
        case .rcpt(let k):
            let r = recipients[k]
            if let mailRefusal {
                outcomes[r] = mailRefusal
            } else if outcome == .delivered {
                accepted.append(r)
            } else {
                outcomes[r] = outcome
            }
            step = k + 1 < recipients.count ? .rcpt(k + 1) : .data
        case .data:
            if reply.code == 354 {
                guard !accepted.isEmpty else {
                    failRemaining(.transient("upstream accepted DATA without a recipient"))
                    return .abandonConnection
                }
                step = .endOfData
                return .sendBody
            }
            // Refused: whoever was accepted shares DATA's fate (a 503/554 after refused RCPTs
            // only concerns recipients that already have their outcome).
            let dataOutcome = outcome == .delivered ? SpoolRecipientOutcome.transient("unexpected reply to DATA: \(reply.code)") : outcome
            for r in accepted { outcomes[r] = dataOutcome }
            step = .finished
            return .finished
        case .endOfData:
            for r in accepted { outcomes[r] = outcome }
            step = .finished
            return .finished
        case .finished:
            return .finished
        }
        return .wait
    }

    /// The connection failed (refused, timed out, lost, 421): every recipient without an
    /// outcome is tried again later. Never a bounce: nothing permanent was said.
    public mutating func connectionFailed(_ reason: String) {
        failRemaining(.transient(reason))
    }

    private mutating func failRemaining(_ outcome: SpoolRecipientOutcome) {
        for r in recipients where outcomes[r] == nil { outcomes[r] = outcome }
        step = .finished
    }
}
