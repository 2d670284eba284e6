/// One client's SMTP session on the relay's server side, as a pure state machine: client
/// bytes and upstream results in, `SMTPSessionAction`s out, no I/O.
///
/// It answers commands strictly in order (RFC 2920): when a command needs the upstream
/// (MAIL, RCPT, DATA, end of data) the session stops reading input until the upstream's
/// answer arrives, so pipelined commands wait in the caller's buffer and replies never
/// overtake each other. The body is scanned as it arrives and forwarded cut-through; the
/// client's final 250 is the upstream's, given only after the upstream accepted the message.
public struct SMTPServerSession: Sendable {
    public let policy: SMTPServerPolicy
    /// Supplies the Received header's id and time; injected so tests are deterministic.
    public var traceStamp: @Sendable () -> (id: String, unixTime: Int)

    private enum Waiting: Sendable, Equatable {
        case mail(smtputf8: Bool)
        case rcpt
        case data
        case bdatStart(size: Int, last: Bool)
        case endOfData
    }

    private enum Phase: Sendable {
        case commands
        case waiting(Waiting)
        /// Streaming a DATA body to the upstream.
        case data(DataScanner)
        /// A DATA body whose fate is already decided (refused DATA with the body already
        /// pipelined, or the upstream lost midway): consume it to its end, forward nothing.
        case discardData(DataScanner, reply: SMTPReply?)
        /// Inside a BDAT chunk: `remaining` octets still to come.
        case bdat(remaining: Int, last: Bool, converter: BDATChunkConverter)
        /// Swallowing a refused BDAT chunk's octets so they are not read as commands.
        case discardBDAT(remaining: Int)
        case closed
    }

    private var phase = Phase.commands
    private var reader = SMTPCommandLineReader()
    private var heloName: String?
    private var usedEHLO = false
    private var mailOpen = false
    private var mailSMTPUTF8 = false
    private var recipientsTried = 0
    private var recipientsAccepted = 0
    private var errors = 0
    /// The upstream failed while the body streamed: say 451 at the end.
    private var upstreamLostDuringBody: String?
    /// The upstream was lost while a transaction was open between commands: the next RCPT,
    /// DATA or BDAT of that transaction gets a transient failure, not "need MAIL".
    private var transactionLost: String?
    /// BDAT: the converter lives across chunks of one message.
    private var bdatConverter: BDATChunkConverter?

    public init(policy: SMTPServerPolicy, traceStamp: @escaping @Sendable () -> (id: String, unixTime: Int)) {
        self.policy = policy
        self.traceStamp = traceStamp
    }

    /// The greeting, sent when the client connects.
    public func greeting() -> [SMTPSessionAction] {
        var ready = SMTPReply.serviceReady(policy.hostname)
        if let token = policy.greetingToken { ready.lines[0] += " \(token)" }
        return [.reply(ready)]
    }

    public var isClosed: Bool { if case .closed = phase { return true } else { return false } }

    /// True while the session waits for the upstream: the caller keeps unconsumed input.
    public var isWaitingForUpstream: Bool { if case .waiting = phase { return true } else { return false } }

    /// True while the upstream's final reply to a message is awaited.
    public var isWaitingForEndOfData: Bool {
        if case .waiting(.endOfData) = phase { return true } else { return false }
    }

    /// True while a body streams to the upstream (the glue must report upstream loss).
    public var isStreamingBody: Bool {
        switch phase {
        case .data, .bdat: return true
        default: return false
        }
    }

    // MARK: - Client input

    /// Consumes as much of `input` as the session can act on now. Bytes after `consumed` must
    /// be offered again (with more appended) after the next upstream answer.
    public mutating func receive(_ input: UnsafeRawBufferPointer) -> (consumed: Int, actions: [SMTPSessionAction]) {
        var actions: [SMTPSessionAction] = []
        var offset = 0
        loop: while offset < input.count {
            let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
            switch phase {
            case .closed, .waiting:
                break loop
            case .commands:
                let (event, used) = reader.next(rest)
                offset += used
                guard let event else {
                    if used == 0 { break loop }
                    continue
                }
                handle(event, pendingAfter: input.count - offset, into: &actions)
            case .data(var scanner):
                let r = scanner.scan(rest)
                if r.violation == nil, let body = SMTPSessionAction.body(r, at: offset) { actions.append(body) }
                offset += r.consumed
                if r.ended {
                    if let v = r.violation {
                        actions.append(.upstreamAbort)
                        finishTransaction()
                        phase = .commands
                        actions.append(.reply(SMTPReply(code: v.replyCode, enhanced: v.enhancedStatus, v.replyText)))
                    } else {
                        actions.append(.upstreamEndOfData)
                        phase = .waiting(.endOfData)
                    }
                } else {
                    phase = .data(scanner)
                    if r.consumed == 0 && r.prefix.isEmpty { break loop }
                }
            case .discardData(var scanner, let reply):
                let r = scanner.scan(rest)
                offset += r.consumed
                if r.ended {
                    phase = .commands
                    // Only the upstream-lost case still owes a reply; a refused DATA was
                    // answered when it was refused.
                    if let reply { actions.append(.reply(reply)) }
                } else {
                    phase = .discardData(scanner, reply: reply)
                    if r.consumed == 0 && r.prefix.isEmpty { break loop }
                }
            case .bdat(let remaining, let last, var converter):
                let take = min(remaining, rest.count)
                let chunk = UnsafeRawBufferPointer(rebasing: rest[0..<take])
                var used = 0
                while used < take {
                    let r = converter.convert(UnsafeRawBufferPointer(rebasing: chunk[used...]))
                    if r.violation == nil, upstreamLostDuringBody == nil,
                       let body = SMTPSessionAction.body(r, at: offset + used) {
                        actions.append(body)
                    }
                    used += r.consumed
                    if r.consumed == 0 && r.prefix.isEmpty { break }  // it can take nothing more
                }
                offset += take
                let left = remaining - take
                if left > 0 {
                    phase = .bdat(remaining: left, last: last, converter: converter)
                    continue
                }
                finishChunk(last: last, converter: &converter, into: &actions)
            case .discardBDAT(let remaining):
                let take = min(remaining, rest.count)
                offset += take
                phase = remaining - take > 0 ? .discardBDAT(remaining: remaining - take) : .commands
            }
        }
        return (offset, actions)
    }

    private mutating func finishChunk(last: Bool, converter: inout BDATChunkConverter, into actions: inout [SMTPSessionAction]) {
        if let lost = upstreamLostDuringBody, last {
            upstreamLostDuringBody = nil
            finishTransaction()
            phase = .commands
            actions.append(.reply(.upstreamFailed(lost)))
            return
        }
        if let v = converter.violation, last {
            actions.append(.upstreamAbort)
            finishTransaction()
            phase = .commands
            actions.append(.reply(SMTPReply(code: v.replyCode, enhanced: v.enhancedStatus, v.replyText)))
            return
        }
        if !last {
            // Chunk taken; the message is judged at LAST (a violation stays recorded).
            bdatConverter = converter
            phase = .commands
            actions.append(.reply(.ok("Chunk accepted")))
            return
        }
        let tail = converter.finish()
        if let v = tail.violation ?? converter.violation {
            actions.append(.upstreamAbort)
            finishTransaction()
            phase = .commands
            actions.append(.reply(SMTPReply(code: v.replyCode, enhanced: v.enhancedStatus, v.replyText)))
            return
        }
        if !tail.prefix.isEmpty { actions.append(.upstreamBody(prefix: tail.prefix, input: 0..<0)) }
        actions.append(.upstreamEndOfData)
        phase = .waiting(.endOfData)
    }

    // MARK: - Commands

    private mutating func handle(_ event: SMTPCommandLineReader.Event, pendingAfter: Int,
                                 into actions: inout [SMTPSessionAction]) {
        switch event {
        case .tooLong:
            fail(.lineTooLong, into: &actions)
        case .bareLineEnding:
            fail(.bareLineEnding, into: &actions)
        case .line(let line):
            switch SMTPCommandParser.parse(line) {
            case .failure(let reply):
                fail(reply, into: &actions)
            case .success(let command):
                execute(command, pendingAfter: pendingAfter, into: &actions)
            }
        }
    }

    /// A refused command: counts towards the error limit, past which the session ends.
    private mutating func fail(_ reply: SMTPReply, into actions: inout [SMTPSessionAction]) {
        errors += 1
        if errors > policy.maxErrors {
            actions.append(.reply(SMTPReply(code: 421, enhanced: "4.7.0", "\(policy.hostname) Too many errors, closing connection")))
            actions.append(.close)
            phase = .closed
            return
        }
        actions.append(.reply(reply))
    }

    private mutating func execute(_ command: SMTPCommand, pendingAfter: Int, into actions: inout [SMTPSessionAction]) {
        switch command {
        case .ehlo(let name):
            resetTransaction(into: &actions)
            heloName = name
            usedEHLO = true
            actions.append(.reply(.ehlo(policy.hostname, capabilities: [
                "PIPELINING", "SIZE \(policy.maxMessageBytes)", "8BITMIME", "SMTPUTF8",
                "ENHANCEDSTATUSCODES", "CHUNKING",
            ])))
        case .helo(let name):
            resetTransaction(into: &actions)
            heloName = name
            usedEHLO = false
            actions.append(.reply(.helo(policy.hostname)))
        case .mail(let path, let parameters):
            guard heloName != nil else {
                return fail(.badSequence("Error: send HELO/EHLO first"), into: &actions)
            }
            guard !mailOpen else { return fail(.badSequence("Error: nested MAIL command"), into: &actions) }
            transactionLost = nil
            if !usedEHLO && !parameters.raw.isEmpty {
                return fail(.syntax("MAIL parameters need EHLO"), into: &actions)
            }
            if let size = parameters.size, size > policy.maxMessageBytes {
                return fail(.sizeExceeded, into: &actions)
            }
            if path?.needsSMTPUTF8 == true && !parameters.smtputf8 {
                return fail(.smtputf8Required, into: &actions)
            }
            if !policy.relayAllowed {
                // Every RCPT will be refused (554 5.7.1): the upstream need not hear of it.
                mailOpen = true
                actions.append(.reply(.senderOK()))
                return
            }
            actions.append(.upstreamMail(reversePath: path?.text ?? "<>", parameters: parameters.text,
                                         smtputf8: parameters.smtputf8))
            phase = .waiting(.mail(smtputf8: parameters.smtputf8))
        case .rcpt(let path, _):
            if bdatConverter != nil {
                return fail(.badSequence("Error: RCPT not allowed after BDAT"), into: &actions)
            }
            if let lost = transactionLost {
                actions.append(.reply(.upstreamFailed(lost)))
                return
            }
            guard mailOpen else { return fail(.badSequence("Error: need MAIL command"), into: &actions) }
            guard policy.relayAllowed else { return fail(.relayDenied, into: &actions) }
            guard recipientsTried < policy.maxRecipients else {
                actions.append(.reply(.tooManyRecipients))
                return
            }
            if path.needsSMTPUTF8 && !mailSMTPUTF8 {
                return fail(.smtputf8Required, into: &actions)
            }
            recipientsTried += 1
            actions.append(.upstreamRcpt(forwardPath: path.text))
            phase = .waiting(.rcpt)
        case .data:
            if bdatConverter != nil {
                // RFC 3030 2: DATA after BDAT in one transaction is a sequence error; what
                // follows it is read as commands, as the client will expect after a 503.
                return fail(.badSequence("Error: DATA not allowed after BDAT"), into: &actions)
            }
            if let lost = transactionLost {
                return refuseBody(.upstreamFailed(lost), pendingAfter: pendingAfter, into: &actions)
            }
            guard mailOpen else { return refuseBody(.badSequence("Error: need MAIL command"), pendingAfter: pendingAfter, into: &actions) }
            guard recipientsAccepted > 0 else { return refuseBody(.noValidRecipients, pendingAfter: pendingAfter, into: &actions) }
            actions.append(.upstreamData)
            phase = .waiting(.data)
        case .bdat(let size, let last):
            if let lost = transactionLost {
                actions.append(.reply(.upstreamFailed(lost)))
                phase = size > 0 ? .discardBDAT(remaining: size) : .commands
                return
            }
            guard mailOpen else {
                errors += 1
                actions.append(.reply(.badSequence("Error: need MAIL command")))
                phase = size > 0 ? .discardBDAT(remaining: size) : .commands
                return
            }
            guard recipientsAccepted > 0 else {
                actions.append(.reply(.noValidRecipients))
                phase = size > 0 ? .discardBDAT(remaining: size) : .commands
                return
            }
            if let converter = bdatConverter {
                phase = .bdat(remaining: size, last: last, converter: converter)
                if size == 0 { finishChunkFromPhase(into: &actions) }
            } else {
                actions.append(.upstreamData)
                phase = .waiting(.bdatStart(size: size, last: last))
            }
        case .rset:
            resetTransaction(into: &actions)
            actions.append(.reply(.ok()))
        case .noop:
            actions.append(.reply(.ok()))
        case .help:
            actions.append(.reply(.help))
        case .vrfy:
            actions.append(.reply(.vrfy))
        case .quit:
            resetTransaction(into: &actions)
            actions.append(.reply(.closing()))
            actions.append(.close)
            phase = .closed
        }
    }

    /// DATA refused. A client that pipelined its body behind DATA (bytes already waiting)
    /// must not have that body read as commands: it is consumed as a body and dropped.
    private mutating func refuseBody(_ reply: SMTPReply, pendingAfter: Int, into actions: inout [SMTPSessionAction]) {
        errors += 1
        actions.append(.reply(reply))
        if pendingAfter > 0 {
            phase = .discardData(DataScanner(maxMessageBytes: Int.max, bareLineEndings: .normalize), reply: nil)
        }
    }

    private mutating func finishChunkFromPhase(into actions: inout [SMTPSessionAction]) {
        guard case .bdat(_, let last, var converter) = phase else { return }
        finishChunk(last: last, converter: &converter, into: &actions)
    }

    private mutating func resetTransaction(into actions: inout [SMTPSessionAction]) {
        // A client that may not relay never had a transaction upstream.
        if mailOpen && policy.relayAllowed { actions.append(.upstreamReset) }
        finishTransaction()
        transactionLost = nil
    }

    private mutating func finishTransaction() {
        mailOpen = false
        mailSMTPUTF8 = false
        recipientsTried = 0
        recipientsAccepted = 0
        bdatConverter = nil
        upstreamLostDuringBody = nil
    }

    private func receivedHeader() -> [UInt8] {
        let stamp = traceStamp()
        return ReceivedHeader.make(heloName: heloName ?? "unknown", clientIP: policy.clientIP, hostname: policy.hostname,
                                   protocol: mailSMTPUTF8 ? .utf8smtp : (usedEHLO ? .esmtp : .smtp),
                                   id: stamp.id, recipient: nil, unixTime: stamp.unixTime)
    }

    // MARK: - Upstream results

    /// The upstream answered the request the session is waiting for.
    public mutating func upstreamReplied(_ reply: SMTPReply) -> [SMTPSessionAction] {
        guard case .waiting(let waiting) = phase else { return [] }
        var actions: [SMTPSessionAction] = []
        // A 421 means the upstream is closing: for our client that is a transient failure of
        // this transaction, not of the session.
        let passed = reply.code == 421 ? SMTPReply.upstreamFailed("upstream closing: \(reply.lines.first ?? "")") : reply
        switch waiting {
        case .mail(let smtputf8):
            phase = .commands
            if reply.isPositive {
                mailOpen = true
                mailSMTPUTF8 = smtputf8
            }
            actions.append(.reply(passed))
        case .rcpt:
            phase = .commands
            if reply.isPositive { recipientsAccepted += 1 }
            actions.append(.reply(passed))
        case .data:
            if reply.code == 354 {
                actions.append(.reply(.startMailInput))
                actions.append(.upstreamBody(prefix: receivedHeader(), input: 0..<0))
                phase = .data(DataScanner(maxMessageBytes: policy.maxMessageBytes, bareLineEndings: policy.bareLineEndings))
            } else {
                phase = .commands
                finishTransaction()
                actions.append(.reply(passed.isPositive ? .upstreamFailed("unexpected reply to DATA") : passed))
            }
        case .bdatStart(let size, let last):
            if reply.code == 354 {
                actions.append(.upstreamBody(prefix: receivedHeader(), input: 0..<0))
                phase = .bdat(remaining: size, last: last,
                              converter: BDATChunkConverter(maxMessageBytes: policy.maxMessageBytes, bareLineEndings: policy.bareLineEndings))
                if size == 0 { finishChunkFromPhase(into: &actions) }
            } else {
                // The chunk's octets follow the command whatever we answer: swallow them.
                finishTransaction()
                phase = size > 0 ? .discardBDAT(remaining: size) : .commands
                actions.append(.reply(passed.isPositive ? .upstreamFailed("unexpected reply to DATA") : passed))
            }
        case .endOfData:
            phase = .commands
            finishTransaction()
            actions.append(.reply(passed))
        }
        return actions
    }

    /// The upstream could not be reached, timed out or disconnected. The client gets a
    /// transient failure (never 250, never 5xx); a body in flight is consumed to its end first.
    public mutating func upstreamFailed(_ reason: String) -> [SMTPSessionAction] {
        switch phase {
        case .waiting(.bdatStart(let size, _)):
            finishTransaction()
            phase = size > 0 ? .discardBDAT(remaining: size) : .commands
            return [.reply(.upstreamFailed(reason))]
        case .waiting(let waiting):
            // The client may have pipelined more of this transaction (further RCPTs, DATA):
            // those get the same transient failure, not "need MAIL" (a 5xx it would bounce on).
            let pipelinedMore = waiting != .endOfData && (mailOpen || waiting == .mail(smtputf8: true) || waiting == .mail(smtputf8: false))
            finishTransaction()
            if pipelinedMore { transactionLost = reason }
            phase = .commands
            return [.reply(.upstreamFailed(reason))]
        case .data(let scanner):
            finishTransaction()
            phase = .discardData(scanner, reply: .upstreamFailed(reason))
            return []
        case .bdat:
            upstreamLostDuringBody = reason
            return []
        case .commands:
            // Lost between commands of an open transaction: it is gone upstream.
            if mailOpen {
                finishTransaction()
                transactionLost = reason
            }
            return []
        default:
            return []
        }
    }
}
