/// One client of the SMTP relay as the worker tracks it: the socket, the pure session, the
/// bytes waiting either way, and the upstream connection lent to it.
final class SMTPClientConnection {
    let fd: Int32
    let generation: UInt32
    var session: SMTPServerSession
    /// Received fields of the message being received, for the loop check at its end.
    var hopCounter = ReceivedHopCounter()
    /// Replies waiting to go to the client (one send in flight at most).
    let out: ByteRing
    /// Replies that did not fit in `out`; no input is fed to the session while any wait here.
    var outOverflow: [UInt8] = []
    /// Received and not yet consumed by the session (it waits for the upstream, or it was fed
    /// in slices). Reading pauses while this holds `SMTPRelayWorker.inputBacklogMax` bytes.
    var input: [UInt8] = []
    /// The upstream connection (index into the worker's table) carrying this client's mail.
    var upstream: Int?
    var sending = false
    var receiving = false
    var cancelling = false
    var sawEOF = false
    /// QUIT (or an error limit) was answered: close once the replies are out.
    var closeAfterFlush = false
    var closing = false
    var abortive = false
    var opsInFlight = 0
    /// The session is being fed; a nested pump only asks the outer one to go round again.
    var pumping = false
    var pumpAgain = false
    var lastActivityMs: Int64
    /// Queue mode: the transaction being spooled (MAIL to the end of data's 250).
    var spoolMessage: SpoolIncomingMessage?
    /// Queue mode: the id of the transaction being spooled, which the session's Received
    /// field shows.
    var queueID: SpoolTraceID?

    init(fd: Int32, generation: UInt32, session: SMTPServerSession, outCapacity: Int, nowMs: Int64) {
        self.fd = fd
        self.generation = generation
        self.session = session
        out = ByteRing(capacity: outCapacity)
        lastActivityMs = nowMs
    }
}
