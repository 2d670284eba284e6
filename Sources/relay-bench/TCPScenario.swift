import Glibc
import UringRelay

/// `relay-bench tcp`: the relay as a plain L4 proxy between relay-bench's clients and its
/// built-in peer (verifying sink, echo). Per round, each engine gets a fresh relay process that
/// runs every workload: bulk throughput, then open-loop request/response latency.
struct TCPScenario: BenchScenario {
    let name = "tcp"
    let summary = "TCP relay: bulk throughput (verified bytes), open-loop echo latency and a saturation sweep of the echo rate"

    let workloads = ["bulk", "rr", "sweep"]
    var flags: [FlagSpec] {
        [FlagSpec("connections", value: "N", help: "tcp: connections of every tcp workload", repeatable: true, default: "the matrix above"),
         FlagSpec("size", value: "BYTES", help: "tcp: bulk write size and request size, e.g. 128, 1K, 64K", repeatable: true, default: "the matrix above")]
    }
    var matrix: String {
        "tcp, full suite (the default):\n" + TCPPlan.full.describe() + "\ntcp --quick:\n" + TCPPlan.quick.describe()
    }

    func checkFlags(_ flags: ParsedFlags) throws(UsageError) { _ = try Self.parse(flags) }

    private static func parse(_ f: ParsedFlags) throws(UsageError) -> (connections: [Int], sizes: [Int]) {
        var connections: [Int] = [], sizes: [Int] = []
        for text in try f.strings("connections") {
            connections.append(try ParsedFlags(values: ["connections": [text]]).int("connections", default: 0, range: 1...10_000))
        }
        for text in try f.strings("size") {
            sizes.append(try ParsedFlags(values: ["size": [text]]).bytes("size", default: 0, range: 128...StreamPattern.maxRun))
        }
        return (connections, sizes)
    }

    func run(options: BenchOptions, environment env: BenchEnvironment) throws(BenchFailure) -> ScenarioReport {
        var plan = options.quick ? TCPPlan.quick : TCPPlan.full
        do {
            let (connections, sizes) = try Self.parse(options.flags)
            plan.apply(connections: connections, sizes: sizes, durationNs: options.durationNs)
        } catch { throw BenchFailure(message: "\(error)") }
        if !options.runs("bulk") { plan.bulkConnections = [] }
        if !options.runs("rr") { plan.rrConnections = [] }
        if !options.runs("sweep") { plan.sweepConnections = [] }
        guard !(plan.bulkConnections + plan.rrConnections + plan.sweepConnections).isEmpty else { return ScenarioReport() }
        guard access(options.relayPath, X_OK) == 0 else {
            throw BenchFailure(message: "relay binary \(options.relayPath) is not executable (build it, or pass --relay PATH)")
        }
        _ = FileDescriptorLimit.raiseToHardLimit()
        CPUPinning.pinCurrentThread(env.loadCPU)
        let pattern = StreamPattern()
        let peer: BenchPeer
        do { peer = try BenchPeer(pattern: pattern, cpu: env.loadCPU, port: options.peerPort) } catch {
            throw BenchFailure(message: "peer: \(error)")
        }
        peer.start()
        defer { peer.stop() }

        var report = ScenarioReport()
        for c in plan.bulkConnections { for b in plan.bulkSizes { report.tables.append(bulkTitle(c, b, plan)) } }
        for c in plan.rrConnections { for b in plan.rrSizes { report.tables.append(rrTitle(c, b, plan)) } }
        for c in plan.sweepConnections { for b in plan.sweepSizes { report.tables.append(sweepTitle(c, b, plan)) } }
        var runID: UInt16 = 0
        let syscalls = SyscallCounting(enabled: options.countSyscalls, cpu: env.loadCPU)

        for round in 1...options.rounds {
            for target in options.targets where report.unavailable[target.name] == nil {
                let engine = target.name
                let relay: RelayProcess
                do {
                    relay = try target.start(relayPath: options.relayPath, mode: "tcp",
                                             arguments: ["--upstream", "127.0.0.1:\(peer.port)", "--threads", "1", "--pin"], cpu: env.relayCPU)
                } catch {
                    report.unavailable[engine] = error.message
                    Console.err("tcp \(engine): unavailable: \(error.message)")
                    continue
                }
                var runs: [BenchResult] = []
                for c in plan.bulkConnections {
                    for b in plan.bulkSizes {
                        runID &+= 1
                        var load = BulkLoad(relayPort: relay.port, relayPid: relay.pid, connections: c,
                                            durationNs: plan.bulkDurationNs, run: runID, cpu: env.loadCPU,
                                            pattern: pattern, peer: peer)
                        load.writeBytes = b
                        let (o, count) = syscalls.around(relay.pid) { load.execute() }
                        var r = bulkResult(o, engine: engine, round: round, writeBytes: b, plan: plan)
                        r.metrics += SyscallCounting.metrics(count, messages: nil, unit: "write", bytes: Double(o.bytesAtSink))
                        progress(r, rounds: options.rounds)
                        runs.append(r)
                    }
                }
                for c in plan.rrConnections {
                    for b in plan.rrSizes {
                        runID &+= 1
                        var load = RequestResponseLoad(relayPort: relay.port, relayPid: relay.pid, connections: c,
                                                       rate: TCPPlan.rrRate(messageBytes: b), durationNs: plan.rrDurationNs,
                                                       warmupNs: plan.rrWarmupNs, run: runID, cpu: env.loadCPU)
                        load.messageBytes = b
                        let (o, count) = syscalls.around(relay.pid) { load.execute() }
                        var r = rrResult(o, engine: engine, round: round, messageBytes: b, plan: plan)
                        // Per request: its bytes go through the relay twice (request and echo).
                        r.metrics += SyscallCounting.metrics(count, messages: o.received, unit: "request", bytes: Double(2 * o.received * b))
                        progress(r, rounds: options.rounds)
                        runs.append(r)
                    }
                }
                for c in plan.sweepConnections {
                    for b in plan.sweepSizes {
                        runs.append(sweepResult(relay: relay, connections: c, messageBytes: b, engine: engine, round: round,
                                                plan: plan, options: options, env: env, runID: &runID))
                    }
                }
                // Peak RSS covers the whole relay process life (all workloads of this round).
                let rss = ProcessUsage.peakRSSBytes(pid: relay.pid)
                let exit = relay.stop()
                if exit != "exit 0" { Console.err("tcp round \(round) \(engine): relay \(exit)") }
                for i in runs.indices {
                    if let rss { runs[i].metrics.append(Metric(key: "relay_peak_rss_mib", label: "relay peak RSS (MiB)", value: Double(rss) / 1048576, decimals: 1)) }
                }
                report.results += runs
            }
            if report.unavailable.count == options.targets.count {
                throw BenchFailure(message: "no engine could start: " + options.targets.map { "\($0.name): \(report.unavailable[$0.name]!)" }.joined(separator: "; "))
            }
        }
        return report
    }

    /// One saturation sweep of request/response at `connections` × `messageBytes`.
    private func sweepResult(relay: RelayProcess, connections c: Int, messageBytes b: Int, engine: String, round: Int,
                             plan: TCPPlan, options: BenchOptions, env: BenchEnvironment, runID: inout UInt16) -> BenchResult {
        let sweep = RateSweep(plan: plan.sweep).run { rate in
            runID &+= 1
            var load = RequestResponseLoad(relayPort: relay.port, relayPid: relay.pid, connections: c,
                                           rate: rate, durationNs: plan.sweep.durationNs,
                                           warmupNs: plan.sweep.warmupNs, run: runID, cpu: env.loadCPU)
            load.messageBytes = b
            load.maxLatencyNs = plan.sweep.maxLatencyNs
            load.drainNs = 1_000_000_000
            let o = load.execute()
            let r = rrResult(o, engine: engine, round: round, messageBytes: b, plan: plan, title: sweepTitle(c, b, plan))
            let step = SweepStep(offeredRate: rate, measuredRate: o.windowRate, problems: o.problems, result: r)
            Console.err(sweepReport.stepLine("tcp round \(round)/\(options.rounds) \(engine) sweep connections=\(c) message_bytes=\(b):", step, plan: plan.sweep))
            return step
        }
        var r = BenchResult(
            scenario: name, workload: "sweep", engine: engine, round: round,
            params: [("connections", String(c)), ("message_bytes", String(b)),
                     ("start_req_s", String(plan.sweep.startRate)), ("duration_s", String(Double(plan.sweep.durationNs) / 1e9))],
            table: sweepTitle(c, b, plan), problems: sweepReport.problems(sweep),
            metrics: sweepReport.metrics(sweep, plan: plan.sweep))
        r.sweep = sweepReport.points(sweep, plan: plan.sweep)
        r.histogram = sweep.heldStep?.result?.histogram
        progress(r, rounds: options.rounds)
        return r
    }

    private var sweepReport: SweepReport { SweepReport(unit: "req_s", unitLabel: "req/s") }

    private func connectionsText(_ c: Int) -> String { "\(c) connection\(c == 1 ? "" : "s")" }

    private func seconds(_ ns: UInt64) -> String {
        ns % 1_000_000_000 == 0 ? String(ns / 1_000_000_000) : NumberText.fixed(Double(ns) / 1e9, 2)
    }

    private func sweepTitle(_ c: Int, _ b: Int, _ plan: TCPPlan) -> String {
        "tcp saturation sweep: \(connectionsText(c)), \(ByteText.short(b)) echo, open loop \(plan.sweep.description)"
    }

    private func bulkTitle(_ c: Int, _ b: Int, _ plan: TCPPlan) -> String {
        "tcp bulk: \(connectionsText(c)), \(seconds(plan.bulkDurationNs)) s of \(ByteText.short(b)) writes into a verifying sink"
    }

    private func rrTitle(_ c: Int, _ b: Int, _ plan: TCPPlan) -> String {
        "tcp request/response: \(connectionsText(c)), \(ByteText.short(b)) echo, open loop at \(TCPPlan.rrRate(messageBytes: b)) req/s, \(seconds(plan.rrDurationNs)) s after \(plan.rrWarmupNs / 1_000_000) ms warm-up"
    }

    private func bulkResult(_ o: BulkOutcome, engine: String, round: Int, writeBytes: Int, plan: TCPPlan) -> BenchResult {
        var metrics = [
            Metric(key: "throughput_gbit_s", label: "throughput (Gbit/s)", value: o.gbitPerSecond, decimals: 2),
            Metric(key: "bytes_verified", label: "bytes verified (GiB)", value: Double(o.bytesAtSink) / Double(1 << 30), decimals: 2),
        ]
        if let cpu = o.cpuSecondsPerGiB {
            metrics.append(Metric(key: "relay_cpu_s_per_gib", label: "relay CPU s per GiB", value: cpu, decimals: 3))
        }
        if let cpu = o.relayCPUSeconds {
            metrics.append(Metric(key: "relay_cpu_utilization", label: "relay CPU (cores busy)", value: o.seconds > 0 ? cpu / o.seconds : 0, decimals: 2))
        }
        return BenchResult(
            scenario: name, workload: "bulk", engine: engine, round: round,
            params: [("connections", String(o.connections)), ("duration_s", String(Double(plan.bulkDurationNs) / 1e9)),
                     ("write_bytes", String(writeBytes))],
            table: bulkTitle(o.connections, writeBytes, plan), problems: o.problems, metrics: metrics)
    }

    private func rrResult(_ o: RequestResponseOutcome, engine: String, round: Int, messageBytes: Int, plan: TCPPlan,
                          title: String? = nil) -> BenchResult {
        let h = o.histogram
        func us(_ q: Double) -> Double { Double(h.value(atQuantile: q)) / 1000 }
        var metrics = [
            Metric(key: "achieved_req_s", label: "replies/s (measured)", value: o.achievedRate, decimals: 0),
            Metric(key: "latency_p50_us", label: "latency p50 (µs)", value: us(0.5), decimals: 1),
            Metric(key: "latency_p90_us", label: "latency p90 (µs)", value: us(0.9), decimals: 1),
            Metric(key: "latency_p99_us", label: "latency p99 (µs)", value: us(0.99), decimals: 1),
            Metric(key: "latency_p99_9_us", label: "latency p99.9 (µs)", value: us(0.999), decimals: 1),
            Metric(key: "latency_max_us", label: "latency max (µs)", value: Double(h.max) / 1000, decimals: 1),
        ]
        if let cpu = o.cpuSecondsPer1kRequests {
            metrics.append(Metric(key: "relay_cpu_ms_per_1k_req", label: "relay CPU ms per 1k requests", value: cpu * 1000, decimals: 3))
        }
        if let cpu = o.relayCPUSeconds, o.measuredSeconds > 0 {
            metrics.append(Metric(key: "relay_cpu_utilization", label: "relay CPU (cores busy)", value: cpu / o.measuredSeconds, decimals: 2))
        }
        return BenchResult(
            scenario: name, workload: "rr", engine: engine, round: round,
            params: [("connections", String(o.connections)), ("rate_req_s", String(o.offeredRate)),
                     ("duration_s", String(Double(plan.rrDurationNs) / 1e9)), ("warmup_s", String(Double(plan.rrWarmupNs) / 1e9)),
                     ("message_bytes", String(messageBytes))],
            table: title ?? rrTitle(o.connections, messageBytes, plan), problems: o.problems, metrics: metrics, histogram: h)
    }

    private func progress(_ r: BenchResult, rounds: Int) {
        let params = r.params.filter { ["connections", "write_bytes", "message_bytes", "rate_req_s"].contains($0.0) }.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        let head = "tcp round \(r.round)/\(rounds) \(r.engine) \(r.workload) \(params):"
        guard r.valid else {
            Console.err("\(head) INVALID: " + r.problems.prefix(3).joined(separator: "; ")
                        + (r.problems.count > 3 ? "; (\(r.problems.count - 3) more)" : ""))
            return
        }
        let shown = r.metrics.filter { ["throughput_gbit_s", "relay_cpu_s_per_gib", "latency_p50_us", "latency_p99_us", "achieved_req_s", "highest_held_req_s", "held_relay_cpu_utilization"].contains($0.key) }
        Console.err("\(head) " + shown.map { "\($0.label) \(NumberText.fixed($0.value, $0.decimals))" }.joined(separator: ", "))
    }
}
