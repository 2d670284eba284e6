import Glibc
import UringRelay

/// `relay-bench smtp`: SMTP sessions through `uring-relay smtp` (or, with --relay-mode tcp,
/// `uring-relay tcp`) into relay-bench's SMTP sink, every message verified at the sink.
///
/// Two phases, engines interleaved A/B within each round, a fresh relay process per engine,
/// round and phase:
/// 1. saturation: closed loop per message size, messages/s at the maximum;
/// 2. open loop per message size at one offered rate for both engines (by default half the
///    lower engine's median saturation, so both are compared under the same load), with latency
///    from each message's intended start.
struct SMTPScenario: BenchScenario {
    let name = "smtp"
    let summary = "SMTP relay: messages/s at saturation, open-loop latency (MAIL FROM to final 250) and a saturation sweep of the open-loop rate, every message verified"
    var flags: [FlagSpec] { SMTPBenchOptions.specs }

    func checkFlags(_ flags: ParsedFlags) throws(UsageError) {
        _ = try SMTPBenchOptions.parse(flags)
    }

    let workloads = ["saturation", "open", "sweep"]
    var matrix: String {
        "smtp, full suite (the default):\n" + SMTPPlan.full.describe() + "\nsmtp --quick:\n" + SMTPPlan.quick.describe()
    }

    func run(options: BenchOptions, environment env: BenchEnvironment) throws(BenchFailure) -> ScenarioReport {
        let smtp: SMTPBenchOptions
        do { smtp = try SMTPBenchOptions.parse(options.flags) } catch { throw BenchFailure(message: "\(error)") }
        var plan = options.quick ? SMTPPlan.quick : SMTPPlan.full
        if !smtp.sessions.isEmpty { plan.sessions = smtp.sessions; plan.sweepSessions = smtp.sessions }
        if smtp.relayMode == .queue && smtp.sessions.isEmpty {
            // Queue mode's question is how many sessions share a flush (group commit).
            (plan.sessions, plan.sweepSessions) = ([1, 10, 100], [100])
        }
        if !smtp.messageSizes.isEmpty { plan.messageSizes = smtp.messageSizes; plan.sweepSizes = smtp.messageSizes }
        if let d = options.durationNs { (plan.saturationDurationNs, plan.openDurationNs, plan.sweep.durationNs) = (d, d, d) }
        // The open loop's rate comes from the saturation runs unless --rate fixes it.
        let runSaturation = options.runs("saturation") || (options.runs("open") && smtp.rate == nil)
        guard runSaturation || options.runs("open") || options.runs("sweep") else { return ScenarioReport() }
        guard access(options.relayPath, X_OK) == 0 else {
            throw BenchFailure(message: "relay binary \(options.relayPath) is not executable (build it, or pass --relay PATH)")
        }
        _ = FileDescriptorLimit.raiseToHardLimit()
        CPUPinning.pinCurrentThread(env.loadCPU)
        let sink: SMTPSink
        do { sink = try SMTPSink(cpu: env.loadCPU, port: options.sinkPort) } catch { throw BenchFailure(message: "sink: \(error)") }
        sink.start()
        defer { sink.stop() }
        defer { SMTPRelayMode.removeSpools() }
        let templates = plan.messageSizes.map { BenchMailTemplate(size: $0) }
        // Every (sessions, template) pair of the saturation and open-loop matrix.
        let cells = plan.sessions.flatMap { n in templates.map { (n, $0) } }

        var report = ScenarioReport()
        var runID: UInt16 = 0
        let mode = smtp.relayMode
        let syscalls = SyscallCounting(enabled: options.countSyscalls, cpu: env.loadCPU)
        func counted(_ load: SMTPLoad, _ relay: RelayProcess) -> (SMTPLoadOutcome, [Metric]) {
            let (o, count) = syscalls.around(relay.pid) { load.execute() }
            return (o, SyscallCounting.metrics(count, messages: o.acceptedMessages, unit: "message",
                                               bytes: Double(o.acceptedMessages * o.messageOctets)))
        }
        if runSaturation {
            for (n, t) in cells { report.tables.append(saturationTitle(n, t.size, plan, mode)) }
            try forEachRelay(options, env, mode, sink, &report) { relay, engine, round in
                cells.map { n, t in
                    runID &+= 1
                    let load = SMTPLoad(port: relay.port, relayPid: relay.pid, sessions: n, template: t,
                                        pacing: .closedLoop, warmupNs: plan.saturationWarmupNs,
                                        durationNs: plan.saturationDurationNs, run: runID, cpu: env.loadCPU,
                                        sink: sink, expectedReceivedFields: mode.receivedFieldsAdded)
                    let (o, extra) = counted(load, relay)
                    var r = result(o, engine: engine, round: round, plan: plan, mode: mode)
                    r.metrics += extra
                    progress(r, rounds: options.rounds)
                    return r
                }
            }
        }

        if options.runs("open") {
            // One offered rate per cell for both engines.
            var rates: [String: Int] = [:]
            func key(_ n: Int, _ size: Int) -> String { "\(n)/\(size)" }
            for (n, t) in cells {
                if let fixed = smtp.rate { rates[key(n, t.size)] = fixed; continue }
                // The lowest of every target's, so each relay gets a load it can carry.
                let medians = options.targets.map(\.name).compactMap { e in
                    Spread(report.results.filter { $0.workload == "saturation" && $0.engine == e && $0.valid
                               && $0.params.contains { $0 == ("message_bytes", String(t.size)) }
                               && $0.params.contains { $0 == ("sessions", String(n)) } }
                            .compactMap { $0.metrics.first { $0.key == "messages_per_s" }?.value })?.median
                }
                if let lower = medians.min(), lower * plan.openLoopFraction >= 1 {
                    rates[key(n, t.size)] = Int(lower * plan.openLoopFraction)
                } else {
                    Console.err("smtp \(n) sessions, \(t.size)-octet messages: no valid saturation run, so no open-loop rate; skipped")
                }
            }
            let openCells = cells.filter { rates[key($0.0, $0.1.size)] != nil }
            for (n, t) in openCells { report.tables.append(openTitle(n, t.size, rates[key(n, t.size)]!, fixed: smtp.rate != nil, plan, mode)) }
            if !openCells.isEmpty {
                try forEachRelay(options, env, mode, sink, &report) { relay, engine, round in
                    openCells.map { n, t in
                        runID &+= 1
                        let rate = rates[key(n, t.size)]!
                        let load = SMTPLoad(port: relay.port, relayPid: relay.pid, sessions: n, template: t,
                                            pacing: .openLoop(messagesPerSecond: rate), warmupNs: plan.openWarmupNs,
                                            durationNs: plan.openDurationNs, run: runID, cpu: env.loadCPU,
                                            sink: sink, expectedReceivedFields: mode.receivedFieldsAdded)
                        let (o, extra) = counted(load, relay)
                        var r = result(o, engine: engine, round: round, plan: plan, mode: mode,
                                       title: openTitle(n, t.size, rate, fixed: smtp.rate != nil, plan, mode))
                        r.metrics += extra
                        progress(r, rounds: options.rounds)
                        return r
                    }
                }
            }
        }

        // Saturation sweep: the open loop stepped up until a rate is not held.
        guard options.runs("sweep") else { return report }
        let sweepCells = plan.sweepSessions.flatMap { n in plan.sweepSizes.map { (n, BenchMailTemplate(size: $0)) } }
        for (n, t) in sweepCells { report.tables.append(sweepTitle(n, t.size, plan, mode)) }
        let sweepReport = SweepReport(unit: "msg_s", unitLabel: "msg/s")
        try forEachRelay(options, env, mode, sink, &report) { relay, engine, round in
            sweepCells.map { n, t in
                let sweep = RateSweep(plan: plan.sweep).run { rate in
                    runID &+= 1
                    var load = SMTPLoad(port: relay.port, relayPid: relay.pid, sessions: n, template: t,
                                        pacing: .openLoop(messagesPerSecond: rate), warmupNs: plan.sweep.warmupNs,
                                        durationNs: plan.sweep.durationNs, run: runID, cpu: env.loadCPU,
                                        sink: sink, expectedReceivedFields: mode.receivedFieldsAdded)
                    load.maxLatencyNs = plan.sweep.maxLatencyNs
                    let o = load.execute()
                    var r = result(o, engine: engine, round: round, plan: plan, mode: mode, title: sweepTitle(n, t.size, plan, mode))
                    if let cpu = o.relayCPUSeconds, o.measuredSeconds > 0 {
                        r.metrics.append(Metric(key: "relay_cpu_utilization", label: "relay CPU (cores busy)", value: cpu / o.measuredSeconds, decimals: 2))
                    }
                    let step = SweepStep(offeredRate: rate, measuredRate: o.windowRate, problems: o.problems, result: r)
                    Console.err(sweepReport.stepLine("smtp round \(round)/\(options.rounds) \(engine) sweep \(n) sessions, \(t.size)-octet messages:", step, plan: plan.sweep))
                    return step
                }
                var r = BenchResult(
                    scenario: name, workload: "sweep", engine: engine, round: round,
                    params: [("relay_mode", mode.rawValue), ("sessions", String(n)), ("message_bytes", String(t.size)),
                             ("start_msg_s", String(plan.sweep.startRate)), ("duration_s", String(Double(plan.sweep.durationNs) / 1e9))],
                    table: sweepTitle(n, t.size, plan, mode), problems: sweepReport.problems(sweep),
                    metrics: sweepReport.metrics(sweep, plan: plan.sweep))
                r.sweep = sweepReport.points(sweep, plan: plan.sweep)
                r.histogram = sweep.heldStep?.result?.histogram
                progress(r, rounds: options.rounds)
                return r
            }
        }
        return report
    }

    private func sweepTitle(_ n: Int, _ size: Int, _ plan: SMTPPlan, _ mode: SMTPRelayMode) -> String {
        "smtp saturation sweep: \(sessionsText(n)), \(sizeText(size)) messages, open loop \(plan.sweep.description), \(through(mode))"
    }

    private func sessionsText(_ n: Int) -> String { "\(n) session\(n == 1 ? "" : "s")" }

    /// Rounds × engines (A/B within a round): a fresh relay for each, `body` runs the workloads,
    /// then the relay's peak RSS is added to each of its results.
    private func forEachRelay(_ options: BenchOptions, _ env: BenchEnvironment, _ mode: SMTPRelayMode, _ sink: SMTPSink,
                              _ report: inout ScenarioReport,
                              _ body: (RelayProcess, String, Int) -> [BenchResult]) throws(BenchFailure) {
        for round in 1...options.rounds {
            for target in options.targets where report.unavailable[target.name] == nil {
                let engine = target.name
                let relay: RelayProcess
                do {
                    relay = try target.start(relayPath: options.relayPath, mode: mode.uringMode,
                                             arguments: mode.arguments(sinkPort: sink.port), cpu: env.relayCPU)
                } catch {
                    report.unavailable[engine] = error.message
                    Console.err("smtp \(engine): unavailable: \(error.message)")
                    continue
                }
                var runs = body(relay, engine, round)
                // Peak RSS covers the relay's whole life (every workload of this round and phase).
                let rss = ProcessUsage.peakRSSBytes(pid: relay.pid)
                let exit = relay.stop()
                if exit != "exit 0" { Console.err("smtp round \(round) \(engine): relay \(exit)") }
                if let rss {
                    for i in runs.indices {
                        runs[i].metrics.append(Metric(key: "relay_peak_rss_mib", label: "relay peak RSS (MiB)", value: Double(rss) / 1048576, decimals: 1))
                    }
                }
                report.results += runs
            }
            if report.unavailable.count == options.targets.count {
                throw BenchFailure(message: "no engine could start: " + options.targets.map { "\($0.name): \(report.unavailable[$0.name]!)" }.joined(separator: "; "))
            }
        }
    }

    private func sizeText(_ octets: Int) -> String {
        octets % 1024 == 0 ? "\(octets / 1024) KiB" : "\(octets)-byte"
    }

    private func through(_ mode: SMTPRelayMode) -> String {
        mode == .queue ? "through uring-relay smtp --mode queue (spool on the same filesystem as $TMPDIR)" : "through uring-relay \(mode.rawValue)"
    }

    private func saturationTitle(_ n: Int, _ size: Int, _ plan: SMTPPlan, _ mode: SMTPRelayMode) -> String {
        "smtp saturation: \(sessionsText(n)), \(sizeText(size)) messages, closed loop, \(seconds(plan.saturationDurationNs)) s after \(plan.saturationWarmupNs / 1_000_000) ms warm-up, \(through(mode))"
    }

    private func openTitle(_ n: Int, _ size: Int, _ rate: Int, fixed: Bool, _ plan: SMTPPlan, _ mode: SMTPRelayMode) -> String {
        let why = fixed ? "" : " (\(Int(plan.openLoopFraction * 100))% of the lower saturation)"
        return "smtp open loop: \(sessionsText(n)), \(sizeText(size)) messages at \(rate) msg/s\(why), \(seconds(plan.openDurationNs)) s after \(plan.openWarmupNs / 1_000_000) ms warm-up, \(through(mode))"
    }

    private func seconds(_ ns: UInt64) -> String {
        ns % 1_000_000_000 == 0 ? String(ns / 1_000_000_000) : NumberText.fixed(Double(ns) / 1e9, 2)
    }

    private func result(_ o: SMTPLoadOutcome, engine: String, round: Int, plan: SMTPPlan, mode: SMTPRelayMode,
                        title: String? = nil) -> BenchResult {
        let h = o.histogram
        func us(_ q: Double) -> Double { Double(h.value(atQuantile: q)) / 1000 }
        let open = o.offeredRate != nil
        var metrics = [Metric(key: "messages_per_s", label: open ? "messages/s (measured)" : "messages/s", value: o.messagesPerSecond, decimals: 0)]
        if !open {
            metrics.append(Metric(key: "message_mib_per_s", label: "message data (MiB/s)", value: o.mebibytesPerSecond, decimals: 1))
        }
        metrics.append(Metric(key: "latency_p50_us", label: "latency p50 (µs)", value: us(0.5), decimals: 1))
        if open { metrics.append(Metric(key: "latency_p90_us", label: "latency p90 (µs)", value: us(0.9), decimals: 1)) }
        metrics.append(Metric(key: "latency_p99_us", label: "latency p99 (µs)", value: us(0.99), decimals: 1))
        if open {
            metrics.append(Metric(key: "latency_p99_9_us", label: "latency p99.9 (µs)", value: us(0.999), decimals: 1))
            metrics.append(Metric(key: "latency_max_us", label: "latency max (µs)", value: Double(h.max) / 1000, decimals: 1))
        }
        if let cpu = o.relayCPUSecondsPer1kMessages {
            metrics.append(Metric(key: "relay_cpu_ms_per_1k_messages", label: "relay CPU ms per 1k messages", value: cpu * 1000, decimals: 2))
        }
        if let cpu = o.relayCPUSeconds, o.measuredSeconds > 0, !open {
            metrics.append(Metric(key: "relay_cpu_utilization", label: "relay CPU (cores busy)", value: cpu / o.measuredSeconds, decimals: 2))
        }
        if let d = o.deliveredPerSecond {
            metrics.append(Metric(key: "delivered_per_s", label: "delivered to the sink (msg/s, whole run)", value: d, decimals: 0))
        }
        // New ones only: the smtp relay keeps idle upstream connections for reuse across runs.
        metrics.append(Metric(key: "upstream_connections_opened", label: "upstream connections opened", value: Double(o.upstreamConnections), decimals: 0))
        var params = [("relay_mode", mode.rawValue), ("sessions", String(o.sessions)), ("message_bytes", String(o.messageOctets))]
        if let rate = o.offeredRate { params.append(("rate_msg_s", String(rate))) }
        let (warmupNs, durationNs) = open ? (plan.openWarmupNs, plan.openDurationNs) : (plan.saturationWarmupNs, plan.saturationDurationNs)
        params += [("duration_s", String(Double(durationNs) / 1e9)), ("warmup_s", String(Double(warmupNs) / 1e9))]
        return BenchResult(
            scenario: name, workload: open ? "open_loop" : "saturation", engine: engine, round: round, params: params,
            table: title ?? saturationTitle(o.sessions, o.messageOctets, plan, mode), problems: o.problems, metrics: metrics,
            histogram: open ? h : nil)
    }

    private func progress(_ r: BenchResult, rounds: Int) {
        let size = r.params.first { $0.0 == "message_bytes" }?.1 ?? "?"
        let n = r.params.first { $0.0 == "sessions" }?.1 ?? "?"
        let head = "smtp round \(r.round)/\(rounds) \(r.engine) \(r.workload) \(n) sessions, \(size)-octet messages:"
        guard r.valid else {
            Console.err("\(head) INVALID: " + r.problems.prefix(3).joined(separator: "; ")
                        + (r.problems.count > 3 ? "; (\(r.problems.count - 3) more)" : ""))
            return
        }
        let shown = r.metrics.filter { ["messages_per_s", "latency_p50_us", "latency_p99_us", "relay_cpu_ms_per_1k_messages", "highest_held_msg_s", "held_relay_cpu_utilization"].contains($0.key) }
        Console.err("\(head) " + shown.map { "\($0.label) \(NumberText.fixed($0.value, $0.decimals))" }.joined(separator: ", "))
    }
}
