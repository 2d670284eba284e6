import UringRelay

/// One client session of SMTPLoad (owned by the load thread): where it is in the dialogue, the
/// message in flight, and the bytes still to write.
final class SMTPClientSession {
    enum Phase {
        /// Waiting for the 220 greeting.
        case greeting
        /// EHLO sent.
        case ehlo
        /// Ready for the next message.
        case idle
        /// MAIL, RCPT and DATA sent (together when PIPELINING was offered, else one per reply).
        case envelope
        /// Body and end-of-data line sent; waiting for the final reply.
        case final
        /// QUIT sent.
        case quit
        /// Finished (after 221) or failed; the socket is closed.
        case done
    }

    let fd: Int32
    let index: UInt32
    var phase = Phase.greeting
    var replies = SMTPReplyParser()
    var pipelining = false
    /// Envelope replies received for the message in flight (0: none yet, 1: MAIL's, 2: RCPT's).
    var envelopeReplies = 0
    /// Sequence number of the next message.
    var sequence: UInt32 = 0
    /// Messages whose final 250 arrived: sequence numbers 0..<accepted must be at the sink.
    var accepted: UInt32 = 0
    /// When the message in flight should have started (open loop) or did (closed loop).
    var intendedNs: UInt64 = 0
    /// Whether the message in flight counts (it started after the warm-up).
    var measured = false
    /// The template's head with this session's current id patched in.
    var head: [UInt8]
    /// What is being written: `small` (commands) or `head` + the template tail (the message).
    var sendingMessage = false
    var small: [UInt8] = []
    /// Bytes of the current write already sent.
    var sentOffset = 0
    var hasPendingWrite = false

    init(fd: Int32, index: UInt32, head: [UInt8]) {
        self.fd = fd
        self.index = index
        self.head = head
    }
}
