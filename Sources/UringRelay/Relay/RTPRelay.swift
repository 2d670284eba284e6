import CURing
import Glibc
import Synchronization

/// A running RTP relay: its two sockets (RTP on the listen port, RTCP on the next), one
/// worker thread with its engine, and the fan-out core (`RTPFanout`). Used by
/// `uring-relay rtp`, by tests and relay-bench in-process, and by the RTSP relay, which adds
/// and removes destinations as viewers come and go.
///
/// One worker: a single RTP stream is one socket, and a datagram must be fanned out by the
/// thread that received it to stay zero-copy. Thread-safe: every method may be called from
/// any thread.
public final class RTPRelay: Sendable {
    public let config: RTPRelayConfig
    private let shared = RTPRelayShared()
    private let nextID = Atomic<UInt64>(1)
    private let state = Mutex<State>(State())
    private let failed = Atomic<Bool>(false)

    private struct State {
        var thread: WorkerThread? = nil
        var wake: WakeHandle? = nil
        var listen: SocketAddress? = nil
        var destinationCount = 0
    }

    public struct StartInfo: Sendable {
        public var rtpAddress: SocketAddress
        public var rtcpAddress: SocketAddress
        public var engine: EngineKind
        public var engineSummary: String
        public var destinations: [RTPDestinationID]
        public var banner: String
    }

    public init(config: RTPRelayConfig) {
        var config = config
        // A datagram is fanned out only when there is a send slot for every destination.
        config.maxDestinations = max(1, min(config.maxDestinations, config.maxSendsInFlight))
        self.config = config
    }

    /// Binds both sockets, adds the configured destinations, starts the worker and returns
    /// once its engine is up.
    public func start() throws(RelayStartError) -> StartInfo {
        let selection: EngineSelector.Selection
        do { selection = try EngineSelector.select(config.engine) } catch { throw RelayStartError(error.cause) }
        if let reason = selection.fallbackReason { Log.warning("io_uring unavailable, using epoll: \(reason)") }
        for d in config.destinations {
            if let e = Self.check(d, listen: config.listen) { throw RelayStartError("--to \(d): \(e)") }
        }
        if config.destinations.count > config.maxDestinations {
            throw RelayStartError("\(config.destinations.count) destinations, more than the maximum \(config.maxDestinations)")
        }
        // A receiver named on the command line that cannot be reached at all (EACCES for a
        // broadcast address, ENETUNREACH, EINVAL for a link-local address without scope) is
        // a configuration error, said now, not a warning while running without it.
        for d in config.destinations {
            do {
                let probe = try RTPDestinationSockets.open(listen: config.listen, destination: d)
                Glibc.close(probe.rtp)
                Glibc.close(probe.rtcp)
            } catch {
                throw RelayStartError("--to \(d): \(error)")
            }
        }
        try checkFileDescriptorLimit()
        let (rtpFd, rtcpFd) = try bindPair()
        let rtp: SocketAddress
        let rtcp: SocketAddress
        do {
            rtp = try Socket.localAddress(of: rtpFd)
            rtcp = try Socket.localAddress(of: rtcpFd)
        } catch {
            Glibc.close(rtpFd)
            Glibc.close(rtcpFd)
            throw RelayStartError("getsockname: \(error)")
        }
        var ids: [RTPDestinationID] = []
        shared.commands.withLock { c in
            for d in config.destinations {
                let id = RTPDestinationID(raw: nextID.add(1, ordering: .relaxed).oldValue)
                ids.append(id)
                c.append(.add(id, d))
            }
        }
        shared.commandsPending.store(true, ordering: .releasing)

        let startup = StartupGate(count: 1)
        let kind = selection.kind
        let thread = WorkerThread(name: "rtp-w0") { [self] in
            if config.pinWorker { _ = curing_pin_thread_to_cpu(0) }
            func go<E: IOEngine>(_ make: () throws(EngineSetupError) -> E) {
                let engine: E
                do { engine = try make() } catch {
                    Glibc.close(rtpFd)
                    Glibc.close(rtcpFd)
                    startup.report(0, .init(error: "worker: \(error.cause)"))
                    return
                }
                startup.report(0, .init(summary: engine.featureSummary, wake: engine.wakeHandle))
                let fanout = RTPFanout(engine: engine, config: config, shared: shared, rtpFd: rtpFd, rtcpFd: rtcpFd)
                do { try fanout.run() } catch {
                    Log.error("rtp worker stopped: \(error)")
                    self.failed.store(true, ordering: .relaxed)
                }
            }
            switch kind {
            case .uring:
                var o = URingEngine.Options()
                o.bufferCount = config.buffers
                o.bufferSize = config.bufferSize
                o.maxOperationsInFlight = config.maxSendsInFlight + config.buffers + 16
                // Room for a whole batch of packets × destinations in one io_uring_enter.
                o.sqEntries = min(32768, URingEngine.nextPowerOfTwo(max(1024, config.maxSendsInFlight)))
                go { () throws(EngineSetupError) in try URingEngine(options: o) }
            case .epoll:
                var o = EpollEngine.Options()
                o.bufferCount = config.buffers
                o.bufferSize = config.bufferSize
                go { () throws(EngineSetupError) in try EpollEngine(options: o) }
            }
        }
        let outcome = startup.waitForAll()[0]
        state.withLock { s in
            s.thread = thread
            s.wake = outcome.wake
            s.listen = rtp
            s.destinationCount = config.destinations.count
        }
        if let error = outcome.error {
            thread.join()
            throw RelayStartError(error)
        }
        let pool = config.buffers * config.bufferSize
        let banner = "rtp relay listening on \(rtp) (RTCP \(rtcp.port)) → \(config.destinations.count) destination(s); "
            + "engine \(outcome.summary); buffer pool \(config.buffers) × \(config.bufferSize) B = \(pool >> 20) MiB; "
            + "\(config.maxSendsInFlight) sends in flight; max \(config.maxDestinations) destinations"
            + (config.rtcpToSource ? "; receiver reports forwarded to the source" : "")
        return StartInfo(rtpAddress: rtp, rtcpAddress: rtcp, engine: kind, engineSummary: outcome.summary,
                         destinations: ids, banner: banner)
    }

    /// Beyond the destinations' sockets: the two listen sockets, the engine's ring (or epoll
    /// instance) and eventfd, and a little room.
    static var fileDescriptorReserve: Int { 16 }

    /// Each destination holds 2 fds (its connected RTP and RTCP sockets), so `maxDestinations`
    /// must fit in RLIMIT_NOFILE (raised to the hard limit first) next to what is already
    /// open; found out here rather than as EMFILE on the thousandth receiver.
    private func checkFileDescriptorLimit() throws(RelayStartError) {
        let limit = FileDescriptorLimit.raiseToHardLimit()
        let open = max(0, Socket.openFileDescriptorCount())
        let needed = open + 2 * config.maxDestinations + Self.fileDescriptorReserve
        guard needed > limit else { return }
        let fit = max(0, (limit - open - Self.fileDescriptorReserve) / 2)
        throw RelayStartError("--max-destinations \(config.maxDestinations) needs \(2 * config.maxDestinations) file descriptors "
            + "(a connected RTP and RTCP socket per destination) besides the \(open) open, but RLIMIT_NOFILE is \(limit): "
            + "use --max-destinations \(fit) or less, or raise the limit (ulimit -n)")
    }

    /// RTP on the listen port and RTCP on the next one; with port 0, an even port whose
    /// successor is free (RFC 3550 §11 pairs).
    private func bindPair() throws(RelayStartError) -> (Int32, Int32) {
        let listen = config.listen
        func make(_ a: SocketAddress) throws(SystemError) -> Int32 {
            try Socket.makeDatagramSocket(a, receiveBuffer: config.socketReceiveBuffer, sendBuffer: config.socketSendBuffer)
        }
        if listen.port != 0 {
            guard listen.port < 65535 else { throw RelayStartError("--listen \(listen): port 65535 leaves no port for RTCP") }
            do {
                let rtp = try make(listen)
                do { return (rtp, try make(listen.withPort(listen.port + 1))) } catch {
                    Glibc.close(rtp)
                    throw error
                }
            } catch {
                throw RelayStartError("cannot listen on \(listen): \(error)")
            }
        }
        for _ in 0..<64 {
            do {
                let rtp = try make(listen)
                let port = try Socket.localAddress(of: rtp).port
                if port % 2 == 1 || port == 65534 {
                    Glibc.close(rtp)
                    continue
                }
                if let rtcp = try? make(listen.withPort(port + 1)) { return (rtp, rtcp) }
                Glibc.close(rtp)
            } catch {
                throw RelayStartError("cannot listen on \(listen): \(error)")
            }
        }
        throw RelayStartError("cannot listen on \(listen): no free even/odd port pair found")
    }

    static func check(_ d: SocketAddress, listen: SocketAddress) -> RTPDestinationError? {
        if d.family != listen.family { return .familyMismatch(d, listen: listen) }
        if d.port == 0 || d.port == 65535 { return .noRTCPPort(d) }
        // RTP to d.port and RTCP to d.port + 1 must both miss our own pair (listen, listen + 1)
        // when d is one of this host's addresses.
        let ours = Int(listen.port)...(Int(listen.port) + 1)
        let theirs = Int(d.port)...(Int(d.port) + 1)
        if ours.overlaps(theirs) && (d.ipString == listen.ipString || (isUnspecified(listen) && isLocal(d))) {
            return .loop(d, listen: listen)
        }
        return nil
    }

    private static func isUnspecified(_ a: SocketAddress) -> Bool { a.ipString == "0.0.0.0" || a.ipString == "::" }

    /// Whether `a`'s IP is one of this host's: a UDP socket can be bound to it (port 0).
    private static func isLocal(_ a: SocketAddress) -> Bool {
        guard let fd = try? Socket.makeDatagramSocket(a.withPort(0)) else { return false }
        Glibc.close(fd)
        return true
    }

    /// Adds a receiver while running: RTP to `address`, RTCP to its port + 1. It gets every
    /// packet received after the worker picks up the command (at its next wake-up).
    @discardableResult
    public func addDestination(_ address: SocketAddress) throws(RTPDestinationError) -> RTPDestinationID {
        if let e = Self.check(address, listen: config.listen) { throw e }
        let wake: WakeHandle = try state.withLock { (s: inout State) throws(RTPDestinationError) -> WakeHandle in
            guard let w = s.wake else { throw .notRunning }
            guard s.destinationCount < config.maxDestinations else { throw .tooMany(config.maxDestinations) }
            s.destinationCount += 1
            return w
        }
        let id = RTPDestinationID(raw: nextID.add(1, ordering: .relaxed).oldValue)
        shared.commands.withLock { $0.append(.add(id, address)) }
        shared.commandsPending.store(true, ordering: .releasing)
        wake.wake()
        return id
    }

    /// Stops sending to a destination. Sends already in flight complete (the buffers they
    /// reference stay valid until they do); unknown ids are ignored.
    public func removeDestination(_ id: RTPDestinationID) {
        let wake = state.withLock { s -> WakeHandle? in
            if s.wake != nil { s.destinationCount = max(0, s.destinationCount - 1) }
            return s.wake
        }
        shared.commands.withLock { $0.append(.remove(id)) }
        shared.commandsPending.store(true, ordering: .releasing)
        wake?.wake()
    }

    /// The latest figures the worker published (every 200 ms, and after each add/remove).
    public func stats() -> RTPRelayStats { shared.stats.withLock { $0 } }

    public func requestStop() {
        shared.stopRequested.store(true, ordering: .releasing)
        state.withLock { $0.wake }?.wake()
    }

    public var hasFailed: Bool { failed.load(ordering: .relaxed) }

    public func waitUntilStopped() {
        let thread = state.withLock { $0.thread }
        thread?.join()
    }
}
