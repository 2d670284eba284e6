/// One connection from the relay to the upstream smarthost: the socket, the pure client state
/// machine and the outgoing bytes. It is lent to one client session at a time and, between
/// sessions, parked idle in the worker's pool for the next message.
final class SMTPUpstreamConnection {
    let fd: Int32
    let generation: UInt32
    var client: SMTPUpstreamClient
    /// Commands and body bytes waiting to go out (one send in flight at most).
    let out: ByteRing
    /// The client slot using this connection; nil while parked or being given up.
    var owner: Int?
    var connected = false
    var sending = false
    var receiving = false
    var closing = false
    var abortive = false
    /// Close once `out` has drained (after a parting QUIT).
    var closeAfterFlush = false
    var opsInFlight = 0
    /// Last time the upstream showed life (connected, replied, took bytes): the reply and
    /// send timers run from here.
    var lastProgressMs: Int64
    var parkedSinceMs: Int64 = 0
    /// Queue mode: the spooled message this connection is delivering (instead of an owner).
    var delivery: SpoolDelivery?

    init(fd: Int32, generation: UInt32, heloName: String, loopToken: String?, outCapacity: Int, nowMs: Int64) {
        self.fd = fd
        self.generation = generation
        client = SMTPUpstreamClient(heloName: heloName, loopToken: loopToken)
        out = ByteRing(capacity: outCapacity)
        lastProgressMs = nowMs
    }
}
