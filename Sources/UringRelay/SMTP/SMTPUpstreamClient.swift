/// The relay's side of one upstream SMTP connection, as a pure state machine: requests and
/// upstream bytes in, `SMTPUpstreamEvent`s out, no I/O.
///
/// After the greeting it says EHLO (HELO if EHLO is refused) and learns the upstream's
/// extensions. Requests queue until the connection is ready; with PIPELINING several go out in
/// one write (DATA always ends a group, RFC 2920 3.1), otherwise one at a time. Replies are
/// matched to requests in order. MAIL parameters are adapted to what the upstream offers, and a
/// message the upstream cannot take (SMTPUTF8 or 8-bit to a server without the extension) is
/// refused here with the RFC's code instead of being downgraded behind the sender's back.
///
/// The connection outlives transactions: after the final reply (or RSET) it is idle and can
/// carry the next message, for this client or another.
public struct SMTPUpstreamClient: Sendable {
    public enum State: Equatable, Sendable {
        /// Waiting for the 220 greeting.
        case greeting
        case ehlo
        case helo
        /// Commands may be sent.
        case ready
        /// DATA got its 354: body bytes go straight to the socket until `.endOfData`.
        case body
        case failed
    }

    private struct Awaited: Sendable {
        var request: SMTPUpstreamRequest
        /// A reply decided here without asking the upstream; reported when it reaches the front.
        var synthetic: SMTPReply?
    }

    /// The name we give in EHLO/HELO.
    public let heloName: String
    public private(set) var state = State.greeting
    /// EHLO keywords, upper-cased (empty after HELO).
    public private(set) var capabilities: Set<String> = []
    /// MAIL accepted and no final reply or RSET since.
    public private(set) var transactionOpen = false

    private var parser = SMTPReplyParser()
    /// Sent (or decided locally), reply due, oldest first.
    private var awaited: [Awaited] = []
    /// Not sent yet.
    private var queued: [SMTPUpstreamRequest] = []

    /// A token from our own 220 greeting (see `SMTPServerPolicy.greetingToken`).
    public let loopToken: String?

    public init(heloName: String, loopToken: String? = nil) {
        self.heloName = heloName
        self.loopToken = loopToken
    }

    /// True while the upstream owes a reply: the glue runs its reply timer then.
    public var isAwaitingReply: Bool {
        switch state {
        case .greeting, .ehlo, .helo: return true
        case .failed: return false
        case .ready, .body: return awaited.contains { $0.synthetic == nil }
        }
    }

    /// Ready, nothing owed either way: the connection can be parked for reuse.
    public var isIdle: Bool { state == .ready && awaited.isEmpty && queued.isEmpty }

    public var offersPipelining: Bool { capabilities.contains("PIPELINING") }

    /// Queue a request; returns what to send (now or, before the greeting, later).
    public mutating func request(_ request: SMTPUpstreamRequest) -> [SMTPUpstreamEvent] {
        guard state != .failed else { return [] }
        if state == .body && request != .endOfData {
            // Nothing but body bytes and the final dot may follow a 354; a command now would
            // be read as body text (and wait for a reply that never comes).
            return fail("relay error: \(request) in the middle of a body")
        }
        if request == .endOfData {
            guard state == .body else { return fail("end of data outside a body") }
            state = .ready
            awaited.append(Awaited(request: .endOfData))
            return [.send(Array(".\r\n".utf8))]
        }
        if case .mail = request, transactionOpen || pendingTransaction {
            // The relay's client started over without RSET reaching us (e.g. its DATA was
            // refused locally): reset first so the upstream does not answer "nested MAIL".
            queued.append(.reset)
        }
        queued.append(request)
        return flush()
    }

    /// A MAIL is sent or queued whose transaction the upstream has not closed yet.
    private var pendingTransaction: Bool {
        let all = awaited.map(\.request) + queued
        guard let lastMail = all.lastIndex(where: { if case .mail = $0 { return true } else { return false } }) else {
            return false
        }
        return !all[lastMail...].contains { $0 == .endOfData || $0 == .reset }
    }

    /// Upstream bytes: returns the events they complete, in order.
    public mutating func receive(_ input: UnsafeRawBufferPointer) -> [SMTPUpstreamEvent] {
        guard state != .failed else { return [] }
        let replies: [UpstreamReply]
        do {
            replies = try parser.parse(input)
        } catch {
            return fail("upstream protocol error: \(error)")
        }
        var events: [SMTPUpstreamEvent] = []
        for reply in replies {
            events += handle(reply)
            if state == .failed { break }
        }
        return events
    }

    public mutating func receive(_ bytes: [UInt8]) -> [SMTPUpstreamEvent] {
        bytes.withUnsafeBytes { receive($0) }
    }

    private mutating func fail(_ reason: String) -> [SMTPUpstreamEvent] {
        state = .failed
        queued.removeAll()
        awaited.removeAll()
        return [.failed(reason)]
    }

    private static func summary(_ reply: UpstreamReply) -> String {
        "\(reply.code) \(reply.lines.first ?? "")"
    }

    private mutating func handle(_ reply: UpstreamReply) -> [SMTPUpstreamEvent] {
        switch state {
        case .failed:
            return []
        case .greeting:
            guard reply.code == 220 else { return fail("upstream greeting: \(Self.summary(reply))") }
            // Like Postfix's "mail loops back to myself", but exact: our own greeting carries
            // this process's token, so an upstream that shows it is this relay.
            if let loopToken, reply.lines.contains(where: { $0.contains(loopToken) }) {
                return fail("mail loop: the upstream is this relay itself")
            }
            state = .ehlo
            return [.send(Array("EHLO \(heloName)\r\n".utf8))]
        case .ehlo:
            if reply.code == 250 {
                capabilities = reply.ehloKeywords
                state = .ready
                return flush()
            }
            // A server that does not know EHLO says 500/502 (RFC 5321 3.2): fall back to HELO.
            guard reply.code == 500 || reply.code == 502 else { return fail("upstream EHLO: \(Self.summary(reply))") }
            state = .helo
            return [.send(Array("HELO \(heloName)\r\n".utf8))]
        case .helo:
            guard reply.code == 250 else { return fail("upstream HELO: \(Self.summary(reply))") }
            capabilities = []
            state = .ready
            return flush()
        case .ready, .body:
            guard let first = awaited.first, first.synthetic == nil else {
                return fail("upstream sent a reply nobody asked for: \(Self.summary(reply))")
            }
            awaited.removeFirst()
            var events: [SMTPUpstreamEvent] = []
            var resetAfter = false
            switch first.request {
            case .mail:
                if reply.isPositive { transactionOpen = true }
                events.append(.replied(reply.clientReply))
            case .rcpt:
                events.append(.replied(reply.clientReply))
            case .data:
                if reply.code == 354 {
                    state = .body
                } else if transactionOpen {
                    // DATA refused: the transaction is still open upstream; close it.
                    resetAfter = true
                }
                events.append(.replied(reply.clientReply))
            case .endOfData:
                transactionOpen = false
                events.append(.replied(reply.clientReply))
            case .reset:
                transactionOpen = false
                guard reply.code == 250 else { return events + fail("upstream RSET: \(Self.summary(reply))") }
            case .quit:
                break
            }
            if reply.code == 421 {
                // The upstream is closing: report the reply (the session makes it transient)
                // and give the connection up.
                return events + fail("upstream closing: \(Self.summary(reply))")
            }
            if resetAfter { queued.insert(.reset, at: 0) }
            events += drainSynthetic()
            events += flush()
            return events
        }
    }

    /// Replies decided locally are reported once every earlier reply has been.
    private mutating func drainSynthetic() -> [SMTPUpstreamEvent] {
        var events: [SMTPUpstreamEvent] = []
        while let first = awaited.first, let reply = first.synthetic {
            awaited.removeFirst()
            events.append(.replied(reply))
        }
        return events
    }

    /// Sends what may go now: everything queued with PIPELINING (up to and including a DATA),
    /// else one command when nothing is awaited.
    private mutating func flush() -> [SMTPUpstreamEvent] {
        guard state == .ready else { return [] }
        var bytes: [UInt8] = []
        var events: [SMTPUpstreamEvent] = []
        while let next = queued.first {
            let inFlight = awaited.contains { $0.synthetic == nil }
            if inFlight && !offersPipelining { break }
            if awaited.contains(where: { $0.request == .data && $0.synthetic == nil }) { break }
            queued.removeFirst()
            switch next {
            case .mail(let path, let parameters, _):
                switch mailParameters(parameters) {
                case .success(let text):
                    bytes += Array("MAIL FROM:\(path)\(text.isEmpty ? "" : " " + text)\r\n".utf8)
                    awaited.append(Awaited(request: next))
                case .failure(let refusal):
                    awaited.append(Awaited(request: next, synthetic: refusal))
                }
            case .rcpt(let path):
                bytes += Array("RCPT TO:\(path)\r\n".utf8)
                awaited.append(Awaited(request: next))
            case .data:
                bytes += Array("DATA\r\n".utf8)
                awaited.append(Awaited(request: next))
            case .reset:
                bytes += Array("RSET\r\n".utf8)
                awaited.append(Awaited(request: next))
            case .quit:
                bytes += Array("QUIT\r\n".utf8)
                awaited.append(Awaited(request: next))
            case .endOfData:
                break  // handled in request(_:)
            }
        }
        if !bytes.isEmpty { events.append(.send(bytes)) }
        events += drainSynthetic()
        return events
    }

    /// The client's MAIL parameters as this upstream can take them, or the refusal to give.
    func mailParameters(_ text: String) -> Result<String, SMTPReply> {
        var kept: [Substring] = []
        for token in text.split(separator: " ") {
            let keyword = token.prefix(while: { $0 != "=" }).uppercased()
            let value = token.firstIndex(of: "=").map { token[token.index(after: $0)...].uppercased() }
            switch keyword {
            case "SIZE":
                // Only to a server that declared SIZE (RFC 1870 6); its own limit answers it.
                if capabilities.contains("SIZE") { kept.append(token) }
            case "BODY":
                if capabilities.contains("8BITMIME") {
                    if value == "BINARYMIME" && !capabilities.contains("BINARYMIME") {
                        return .failure(SMTPReply(code: 554, enhanced: "5.6.3", "Upstream does not accept BODY=BINARYMIME"))
                    }
                    kept.append(token)
                } else if value == "8BITMIME" || value == "BINARYMIME" {
                    // RFC 6152 3: 8-bit data must not go to a server that did not offer it.
                    return .failure(SMTPReply(code: 554, enhanced: "5.6.3", "Upstream does not accept 8-bit message data"))
                }
            case "SMTPUTF8":
                guard capabilities.contains("SMTPUTF8") else {
                    // RFC 6531 3.2: an SMTPUTF8 message cannot be relayed to a server without it.
                    return .failure(SMTPReply(code: 550, enhanced: "5.6.7", "Upstream does not support SMTPUTF8"))
                }
                kept.append(token)
            default:
                kept.append(token)
            }
        }
        return .success(kept.joined(separator: " "))
    }
}
