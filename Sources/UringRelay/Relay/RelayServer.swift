import CURing
import Dispatch
import Glibc
import Synchronization

/// A relay as a whole, whatever its mode: listeners, worker threads and their engines. The
/// mode supplies the per-worker protocol logic. Used by the CLI and, in-process, by the
/// tests and relay-bench.
public final class RelayServer<Mode: RelayMode>: Sendable {
    public let mode: Mode
    public var config: Mode.Config { mode.config }
    public let counters = RelayCounters()

    private let stopFlag = Atomic<Bool>(false)
    private let workerFailed = Atomic<Bool>(false)
    private let running = Mutex<Running?>(nil)

    private struct Running {
        var threads: [WorkerThread]
        var wakeHandles: [WakeHandle?]
    }

    public struct StartInfo: Sendable {
        public var listenAddress: SocketAddress
        public var engine: EngineKind
        public var engineSummary: String
        /// The line logged at start: engine, threads, pool sizes, features.
        public var banner: String
    }

    /// Said once at start when the configuration had to be adjusted to the machine.
    private let adjustments: [String]

    public init(mode: Mode) {
        var mode = mode
        var adjustments: [String] = []
        // Each relayed connection holds two fds; listeners, rings and eventfds need a few more.
        let fdLimit = FileDescriptorLimit.raiseToHardLimit()
        let affordable = max(1, (fdLimit - 64 - 4 * mode.config.threads) / 2)
        if mode.config.maxConnections > affordable {
            adjustments.append("--max-conns \(mode.config.maxConnections) needs \(mode.config.maxConnections * 2 + 64) file descriptors "
                + "but RLIMIT_NOFILE is \(fdLimit); using --max-conns \(affordable)")
            mode.config.maxConnections = affordable
        }
        self.mode = mode
        self.adjustments = adjustments
    }

    /// Binds, starts the workers and returns once every worker's engine is up.
    public func start() throws(RelayStartError) -> StartInfo {
        try mode.prepare()
        let selection: EngineSelector.Selection
        do {
            selection = try EngineSelector.select(config.engine)
        } catch {
            throw RelayStartError(error.cause)
        }
        if let reason = selection.fallbackReason {
            Log.warning("io_uring unavailable, using epoll: \(reason)")
        }
        for a in adjustments { Log.warning(a) }
        let cpuCount = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        if config.pinWorkers && config.threads > cpuCount {
            Log.warning("--pin with \(config.threads) threads on \(cpuCount) CPUs: workers share CPUs (worker i on CPU i mod \(cpuCount))")
        }

        var listeners: [Int32] = []
        var boundAddress = config.listen
        do {
            // The workers' listeners share the port through SO_REUSEPORT, which the kernel also
            // grants to any other process of ours that asks, silently splitting the traffic. A
            // plain bind first proves nobody holds the port (EADDRINUSE otherwise).
            if boundAddress.port != 0 {
                let probe = try Socket.makeListener(boundAddress, reusePort: false, backlog: 1)
                Glibc.close(probe)
            }
            for _ in 0..<config.threads {
                let fd = try Socket.makeListener(boundAddress, reusePort: true)
                listeners.append(fd)
                if boundAddress.port == 0 { boundAddress = try Socket.localAddress(of: fd) }
            }
        } catch {
            for fd in listeners { Glibc.close(fd) }
            throw RelayStartError("cannot listen on \(config.listen): \(error)")
        }

        let startup = StartupGate(count: config.threads)
        var threads: [WorkerThread] = []
        for index in 0..<config.threads {
            let listenerFd = listeners[index]
            let kind = selection.kind
            threads.append(WorkerThread(name: "relay-w\(index)") { [self] in
                self.runWorker(index: index, kind: kind, listenerFd: listenerFd, startup: startup)
            })
        }
        let outcomes = startup.waitForAll()
        running.withLock { $0 = Running(threads: threads, wakeHandles: outcomes.map(\.wake)) }
        if let failure = outcomes.compactMap(\.error).first {
            requestStop()
            waitUntilStopped()
            throw RelayStartError(failure)
        }
        let summary = outcomes.first?.summary ?? ""
        let pool = config.buffersPerWorker * config.bufferSize
        let banner = mode.bannerPrefix(listenAddress: boundAddress) + "; engine \(summary); "
            + "\(config.threads) worker thread(s); buffer pool \(config.buffersPerWorker) × \(config.bufferSize) B "
            + "= \(pool >= 1 << 20 ? "\(pool >> 20) MiB" : "\(pool >> 10) KiB") per worker; " + mode.bannerSuffix
        return StartInfo(listenAddress: boundAddress, engine: selection.kind, engineSummary: summary, banner: banner)
    }

    /// Stop accepting and let open connections finish (up to `drainTimeoutMs`). Safe from
    /// any thread, and from a signal-handling thread.
    public func requestStop() {
        stopFlag.store(true, ordering: .releasing)
        running.withLock { r in r?.wakeHandles.forEach { $0?.wake() } }
    }

    public var isStopRequested: Bool { stopFlag.load(ordering: .acquiring) }
    /// True if a worker's engine failed while running (the CLI then exits 1).
    public var hasFailed: Bool { workerFailed.load(ordering: .relaxed) }

    public func waitUntilStopped() {
        let threads = running.withLock { $0?.threads ?? [] }
        for t in threads { t.join() }
    }

    private func runWorker(index: Int, kind: EngineKind, listenerFd: Int32, startup: StartupGate) {
        if config.pinWorkers {
            _ = curing_pin_thread_to_cpu(Int32(index % max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
        }
        switch kind {
        case .uring:
            var o = URingEngine.Options()
            o.bufferCount = config.buffersPerWorker
            o.bufferSize = config.bufferSize
            o.maxOperationsInFlight = min(16384, config.maxConnections * 4 + 64)
            o.zerocopyMinBytes = config.zerocopyMinBytes
            launch(index: index, listenerFd: listenerFd, startup: startup) { () throws(EngineSetupError) in
                try URingEngine(options: o)
            }
        case .epoll:
            var o = EpollEngine.Options()
            o.bufferCount = config.buffersPerWorker
            o.bufferSize = config.bufferSize
            launch(index: index, listenerFd: listenerFd, startup: startup) { () throws(EngineSetupError) in
                try EpollEngine(options: o)
            }
        }
    }

    /// Builds the engine on this (the worker's) thread — io_uring's SINGLE_ISSUER ties the
    /// ring to the thread that creates it — reports to `start()`, then runs until stopped.
    private func launch<E: IOEngine>(index: Int, listenerFd: Int32, startup: StartupGate,
                                     makeEngine: () throws(EngineSetupError) -> E) {
        let engine: E
        do { engine = try makeEngine() } catch {
            Glibc.close(listenerFd)
            startup.report(index, .init(error: "worker \(index): \(error.cause)"))
            return
        }
        startup.report(index, .init(summary: engine.featureSummary, wake: engine.wakeHandle))
        let stop: @Sendable () -> Bool = { [self] in self.isStopRequested }
        run(mode.makeWorker(engine: engine, counters: counters, workerIndex: index, listenerFd: listenerFd,
                            stopRequested: stop))
    }

    private func run(_ worker: any RelayWorker) {
        do {
            try worker.run()
        } catch {
            Log.error("worker stopped: \(error)")
            workerFailed.store(true, ordering: .relaxed)
            requestStop()
        }
    }
}

extension RelayServer where Mode == TCPMode {
    public convenience init(config: TCPRelayConfig) { self.init(mode: TCPMode(config: config)) }
}

/// The TCP relay (see `TCPRelayWorker`).
public typealias TCPRelayServer = RelayServer<TCPMode>

/// Lets `start()` wait until every worker has built its engine (or failed to).
final class StartupGate: Sendable {
    struct Outcome: Sendable {
        var summary: String = ""
        var wake: WakeHandle? = nil
        var error: String? = nil
    }

    private let outcomes: Mutex<[Outcome?]>
    private let done = DispatchSemaphore(value: 0)
    private let count: Int

    init(count: Int) {
        self.count = count
        outcomes = Mutex(Array(repeating: nil, count: count))
    }

    func report(_ index: Int, _ outcome: Outcome) {
        outcomes.withLock { $0[index] = outcome }
        done.signal()
    }

    func waitForAll() -> [Outcome] {
        for _ in 0..<count { done.wait() }
        return outcomes.withLock { $0.map { $0 ?? Outcome(error: "worker did not start") } }
    }
}
