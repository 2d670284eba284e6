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
    let summary = "SMTP relay: messages/s at saturation and open-loop latency (MAIL FROM to final 250), every message verified"
    let engines = ["uring", "epoll"]
    var flags: [FlagSpec] { SMTPBenchOptions.specs }

    func checkFlags(_ flags: ParsedFlags) throws(UsageError) {
        _ = try SMTPBenchOptions.parse(flags)
    }

    func run(options: BenchOptions, environment env: BenchEnvironment) throws(BenchFailure) -> ScenarioReport {
        let smtp: SMTPBenchOptions
        do { smtp = try SMTPBenchOptions.parse(options.flags) } catch { throw BenchFailure(message: "\(error)") }
        var plan = options.quick ? SMTPPlan.quick : SMTPPlan.full
        if let n = smtp.sessions { plan.sessions = n }
        if !smtp.messageSizes.isEmpty { plan.messageSizes = smtp.messageSizes; plan.sweepSizes = smtp.messageSizes }
        guard access(options.relayPath, X_OK) == 0 else {
            throw BenchFailure(message: "relay binary \(options.relayPath) is not executable (build it, or pass --relay PATH)")
        }
        _ = FileDescriptorLimit.raiseToHardLimit()
        CPUPinning.pinCurrentThread(env.loadCPU)
        let sink: SMTPSink
        do { sink = try SMTPSink(cpu: env.loadCPU) } catch { throw BenchFailure(message: "sink: \(error)") }
        sink.start()
        defer { sink.stop() }
        let templates = plan.messageSizes.map { BenchMailTemplate(size: $0) }

        var report = ScenarioReport()
        var runID: UInt16 = 0
        let mode = smtp.relayMode
        for t in templates { report.tables.append(saturationTitle(t.size, plan, mode)) }
        try forEachRelay(options, env, mode, sink, &report) { relay, engine, round in
            templates.map { t in
                runID &+= 1
                let load = SMTPLoad(port: relay.port, relayPid: relay.pid, sessions: plan.sessions, template: t,
                                    pacing: .closedLoop, warmupNs: plan.saturationWarmupNs,
                                    durationNs: plan.saturationDurationNs, run: runID, cpu: env.loadCPU,
                                    sink: sink, expectedReceivedFields: mode.receivedFieldsAdded)
                let r = result(load.execute(), engine: engine, round: round, plan: plan, mode: mode)
                progress(r, rounds: options.rounds)
                return r
            }
        }

        // One offered rate per size for both engines.
        var rates: [Int: Int] = [:]
        for t in templates {
            if let fixed = smtp.rate { rates[t.size] = fixed; continue }
            let medians = engines.compactMap { e in
                Spread(report.results.filter { $0.workload == "saturation" && $0.engine == e && $0.valid
                           && $0.params.contains { $0 == ("message_bytes", String(t.size)) } }
                        .compactMap { $0.metrics.first { $0.key == "messages_per_s" }?.value })?.median
            }
            if let lower = medians.min(), lower * plan.openLoopFraction >= 1 {
                rates[t.size] = Int(lower * plan.openLoopFraction)
            } else {
                Console.err("smtp \(t.size)-octet messages: no valid saturation run, so no open-loop rate; skipped")
            }
        }
        let openTemplates = templates.filter { rates[$0.size] != nil }
        for t in openTemplates { report.tables.append(openTitle(t.size, rates[t.size]!, fixed: smtp.rate != nil, plan, mode)) }
        if !openTemplates.isEmpty {
        try forEachRelay(options, env, mode, sink, &report) { relay, engine, round in
            openTemplates.map { t in
                runID &+= 1
                let rate = rates[t.size]!
                let load = SMTPLoad(port: relay.port, relayPid: relay.pid, sessions: plan.sessions, template: t,
                                    pacing: .openLoop(messagesPerSecond: rate), warmupNs: plan.openWarmupNs,
                                    durationNs: plan.openDurationNs, run: runID, cpu: env.loadCPU,
                                    sink: sink, expectedReceivedFields: mode.receivedFieldsAdded)
                let r = result(load.execute(), engine: engine, round: round, plan: plan, mode: mode,
                               title: openTitle(t.size, rate, fixed: smtp.rate != nil, plan, mode))
                progress(r, rounds: options.rounds)
                return r
            }
        }
        }

        // Saturation sweep: the open loop stepped up until a rate is not held.
        let sweepTemplates = plan.sweepSizes.map { BenchMailTemplate(size: $0) }
        for t in sweepTemplates { report.tables.append(sweepTitle(t.size, plan, mode)) }
        let sweepReport = SweepReport(unit: "msg_s", unitLabel: "msg/s")
        try forEachRelay(options, env, mode, sink, &report) { relay, engine, round in
            sweepTemplates.map { t in
                let sweep = RateSweep(plan: plan.sweep).run { rate in
                    runID &+= 1
                    var load = SMTPLoad(port: relay.port, relayPid: relay.pid, sessions: plan.sessions, template: t,
                                        pacing: .openLoop(messagesPerSecond: rate), warmupNs: plan.sweep.warmupNs,
                                        durationNs: plan.sweep.durationNs, run: runID, cpu: env.loadCPU,
                                        sink: sink, expectedReceivedFields: mode.receivedFieldsAdded)
                    load.maxLatencyNs = plan.sweep.maxLatencyNs
                    let o = load.execute()
                    var r = result(o, engine: engine, round: round, plan: plan, mode: mode, title: sweepTitle(t.size, plan, mode))
                    if let cpu = o.relayCPUSeconds, o.measuredSeconds > 0 {
                        r.metrics.append(Metric(key: "relay_cpu_utilization", label: "relay CPU (cores busy)", value: cpu / o.measuredSeconds, decimals: 2))
                    }
                    let step = SweepStep(offeredRate: rate, measuredRate: o.windowRate, problems: o.problems, result: r)
                    Console.err(sweepReport.stepLine("smtp round \(round)/\(options.rounds) \(engine) sweep \(t.size)-octet messages:", step, plan: plan.sweep))
                    return step
                }
                var r = BenchResult(
                    scenario: name, workload: "sweep", engine: engine, round: round,
                    params: [("relay_mode", mode.rawValue), ("sessions", String(plan.sessions)), ("message_bytes", String(t.size)),
                             ("start_msg_s", String(plan.sweep.startRate)), ("duration_s", String(Double(plan.sweep.durationNs) / 1e9))],
                    table: sweepTitle(t.size, plan, mode), problems: sweepReport.problems(sweep),
                    metrics: sweepReport.metrics(sweep, plan: plan.sweep))
                r.sweep = sweepReport.points(sweep, plan: plan.sweep)
                r.histogram = sweep.heldStep?.result?.histogram
                progress(r, rounds: options.rounds)
                return r
            }
        }
        return report
    }

    private func sweepTitle(_ size: Int, _ plan: SMTPPlan, _ mode: SMTPRelayMode) -> String {
        "smtp saturation sweep: \(plan.sessions) sessions, \(sizeText(size)) messages, open loop \(plan.sweep.description), \(through(mode))"
    }

    /// Rounds × engines (A/B within a round): a fresh relay for each, `body` runs the workloads,
    /// then the relay's peak RSS is added to each of its results.
    private func forEachRelay(_ options: BenchOptions, _ env: BenchEnvironment, _ mode: SMTPRelayMode, _ sink: SMTPSink,
                              _ report: inout ScenarioReport,
                              _ body: (RelayProcess, String, Int) -> [BenchResult]) throws(BenchFailure) {
        for round in 1...options.rounds {
            for engine in engines where report.unavailable[engine] == nil {
                let relay: RelayProcess
                do {
                    relay = try RelayProcess.start(path: options.relayPath, mode: mode.rawValue, engine: engine,
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
            if report.unavailable.count == engines.count {
                throw BenchFailure(message: "no engine could start: " + engines.map { "\($0): \(report.unavailable[$0]!)" }.joined(separator: "; "))
            }
        }
    }

    private func sizeText(_ octets: Int) -> String {
        octets % 1024 == 0 ? "\(octets / 1024) KiB" : "\(octets)-byte"
    }

    private func through(_ mode: SMTPRelayMode) -> String {
        "through uring-relay \(mode.rawValue)"
    }

    private func saturationTitle(_ size: Int, _ plan: SMTPPlan, _ mode: SMTPRelayMode) -> String {
        "smtp saturation: \(plan.sessions) sessions, \(sizeText(size)) messages, closed loop, \(seconds(plan.saturationDurationNs)) s after \(plan.saturationWarmupNs / 1_000_000) ms warm-up, \(through(mode))"
    }

    private func openTitle(_ size: Int, _ rate: Int, fixed: Bool, _ plan: SMTPPlan, _ mode: SMTPRelayMode) -> String {
        let why = fixed ? "" : " (\(Int(plan.openLoopFraction * 100))% of the lower saturation)"
        return "smtp open loop: \(plan.sessions) sessions, \(sizeText(size)) messages at \(rate) msg/s\(why), \(seconds(plan.openDurationNs)) s after \(plan.openWarmupNs / 1_000_000) ms warm-up, \(through(mode))"
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
        // New ones only: the smtp relay keeps idle upstream connections for reuse across runs.
        metrics.append(Metric(key: "upstream_connections_opened", label: "upstream connections opened", value: Double(o.upstreamConnections), decimals: 0))
        var params = [("relay_mode", mode.rawValue), ("sessions", String(o.sessions)), ("message_bytes", String(o.messageOctets))]
        if let rate = o.offeredRate { params.append(("rate_msg_s", String(rate))) }
        let (warmupNs, durationNs) = open ? (plan.openWarmupNs, plan.openDurationNs) : (plan.saturationWarmupNs, plan.saturationDurationNs)
        params += [("duration_s", String(Double(durationNs) / 1e9)), ("warmup_s", String(Double(warmupNs) / 1e9))]
        return BenchResult(
            scenario: name, workload: open ? "open_loop" : "saturation", engine: engine, round: round, params: params,
            table: title ?? saturationTitle(o.messageOctets, plan, mode), problems: o.problems, metrics: metrics,
            histogram: open ? h : nil)
    }

    private func progress(_ r: BenchResult, rounds: Int) {
        let size = r.params.first { $0.0 == "message_bytes" }?.1 ?? "?"
        let head = "smtp round \(r.round)/\(rounds) \(r.engine) \(r.workload) \(size)-octet messages:"
        guard r.valid else {
            Console.err("\(head) INVALID: " + r.problems.prefix(3).joined(separator: "; ")
                        + (r.problems.count > 3 ? "; (\(r.problems.count - 3) more)" : ""))
            return
        }
        let shown = r.metrics.filter { ["messages_per_s", "latency_p50_us", "latency_p99_us", "relay_cpu_ms_per_1k_messages", "highest_held_msg_s", "held_relay_cpu_utilization"].contains($0.key) }
        Console.err("\(head) " + shown.map { "\($0.label) \(NumberText.fixed($0.value, $0.decimals))" }.joined(separator: ", "))
    }
}
