/// One RTSP TCP connection the worker holds: a client (reader or publisher) that connected
/// to us, or our connection to a pulled path's source.
final class RTSPConnection {
    enum Role {
        case client
        case source(path: Int)
    }

    let fd: Int32
    let generation: UInt32
    let role: RTSPConnectionRole
    /// The peer's address (clients: where UDP media goes; sources: what we connect to).
    let peer: SocketAddress
    /// Bytes received but not parsed yet (an incomplete message or frame), bounded.
    let input: UnsafeMutableRawPointer
    let inputCapacity: Int
    var inputCount = 0
    let output: RTSPOutputQueue

    var opsInFlight = 0
    var receiving = false
    var connected = false
    var closing = false
    var closeAfterFlush = false
    var lastActivityMs: Int64
    /// The RTSP sessions created over this connection (clients).
    var sessionIDs: [String] = []
    /// A DESCRIBE waiting for its path's source: parsing stops until it is answered, so the
    /// replies stay in request order.
    var parkedRequest: RTSPMessage?
    var parkedSinceMs: Int64 = 0
    /// Interleaved channel → what it carries here (clients: their sessions' tracks).
    var channels: [RTSPChannelUse?] = Array(repeating: nil, count: 256)
    /// Towards a source: the session state machine and its timers.
    var sourceClient: RTSPSourceClient?
    var sourceAttemptStartedMs: Int64 = 0
    var lastKeepaliveMs: Int64 = 0
    var lastReceiverReportMs: Int64 = 0
    /// A source pulled over UDP: one port pair per track, ours alone, so a packet's socket says
    /// which source and track it belongs to (two streams from one server address cannot mix).
    var sourceUDP: [RTSPUDPPair] = []
    /// When the last complete request arrived (clients), and since when a request has been
    /// arriving incomplete: bounds on idle and slow (slowloris) connections.
    var lastRequestMs: Int64
    var partialSinceMs: Int64?

    init(fd: Int32, generation: UInt32, role: RTSPConnectionRole, peer: SocketAddress, inputCapacity: Int,
         output: RTSPOutputQueue, nowMs: Int64) {
        self.fd = fd
        self.generation = generation
        self.role = role
        self.peer = peer
        self.inputCapacity = inputCapacity
        input = .allocate(byteCount: inputCapacity, alignment: 16)
        self.output = output
        lastActivityMs = nowMs
        lastRequestMs = nowMs
    }

    deinit { input.deallocate() }

    var isSource: Bool {
        if case .source = role { return true }
        return false
    }

    /// Drops the first `n` bytes of the backlog.
    func consumeInput(_ n: Int) {
        precondition(n <= inputCount)
        if n == inputCount {
            inputCount = 0
        } else if n > 0 {
            (input).copyMemory(from: input + n, byteCount: inputCount - n)
            inputCount -= n
        }
    }

    /// The lowest even channel whose pair is free on this connection.
    func freeChannelPair() -> Int? {
        var c = 0
        while c + 1 < 256 {
            if channels[c] == nil && channels[c + 1] == nil { return c }
            c += 2
        }
        return nil
    }
}

typealias RTSPConnectionRole = RTSPConnection.Role

/// What an interleaved channel carries on one connection.
struct RTSPChannelUse: Equatable {
    /// The client session it belongs to; empty for a source's channels.
    var sessionID: String
    var track: Int
    var isRTCP: Bool
    /// The pulled path whose source sends on it (source channels and UDP ports), else -1.
    var sourcePath: Int = -1
}
