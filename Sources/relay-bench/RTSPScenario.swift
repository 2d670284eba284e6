import Glibc
import UringRelay

/// `relay-bench rtsp`: one publisher → N readers through `uring-relay rtsp --path
/// bench=publish` (RTSPLoad). Per round, each engine (A/B within the round) runs every step
/// with a fresh relay process: a new reader has to be held back until a keyframe and given the
/// parameter sets, which only a relay that saw the stream from its start can be checked on.
struct RTSPScenario: BenchScenario {
    let name = "rtsp"
    let summary = "RTSP fan-out: one published H.264-like stream to N readers over TCP interleaved or UDP; readers held, time to first frame, delivered packets, loss, every packet verified"
    let workloads = ["fanout"]
    var flags: [FlagSpec] { RTSPBenchOptions.specs }
    static let path = "bench"

    var matrix: String {
        func steps(_ plan: RTSPPlan) -> String {
            plan.steps.map { "  \($0.readers) \(Self.transportName($0.transport)) reader(s) at \($0.megabitsPerSecond) Mbit/s" }.joined(separator: "\n")
                + "\n  each: \(NumberText.fixed(Double(plan.durationNs) / 1e9, 1)) s measured after \(NumberText.fixed(Double(plan.warmupNs) / 1e9, 1)) s of publishing alone and the readers' set-up"
        }
        return "rtsp (fanout), full suite (the default):\n" + steps(.full) + "\nrtsp --quick:\n" + steps(.quick)
    }

    func checkFlags(_ flags: ParsedFlags) throws(UsageError) {
        _ = try RTSPBenchOptions.parse(flags)
    }

    static func transportName(_ t: RTSPTransport.LowerTransport) -> String { t == .tcp ? "TCP" : "UDP" }

    func run(options: BenchOptions, environment env: BenchEnvironment) throws(BenchFailure) -> ScenarioReport {
        guard options.runs("fanout") else { return ScenarioReport() }
        // External relays (--external-relay) are TCP relays; the rtsp load measures uring-relay only.
        let engines = options.engines
        let o: RTSPBenchOptions
        do { o = try RTSPBenchOptions.parse(options.flags) } catch { throw BenchFailure(message: "\(error)") }
        var plan = options.quick ? RTSPPlan.quick : RTSPPlan.full
        plan.steps = o.apply(to: plan)
        if let d = options.durationNs { plan.durationNs = d }
        guard !plan.steps.isEmpty else { return ScenarioReport() }
        guard access(options.relayPath, X_OK) == 0 else {
            throw BenchFailure(message: "relay binary \(options.relayPath) is not executable (build it, or pass --relay PATH)")
        }
        _ = FileDescriptorLimit.raiseToHardLimit()
        CPUPinning.pinCurrentThread(env.loadCPU)

        var report = ScenarioReport()
        report.tables = plan.steps.map { title($0, plan) }
        for round in 1...options.rounds {
            for engine in engines where report.unavailable[engine] == nil {
                for step in plan.steps {
                    do throws(RelayLaunchError) {
                        let r = try measure(step, plan, engine: engine, round: round, options: options, env: env)
                        progress(r, rounds: options.rounds)
                        report.results.append(r)
                    } catch {
                        report.unavailable[engine] = error.message
                        Console.err("rtsp \(engine): unavailable: \(error.message)")
                        break
                    }
                }
            }
            if report.unavailable.count == engines.count {
                throw BenchFailure(message: "no engine could start: " + engines.map { "\($0): \(report.unavailable[$0]!)" }.joined(separator: "; "))
            }
        }
        return report
    }

    /// One run: a relay with the publish path, the load, the relay's peak RSS.
    private func measure(_ step: RTSPPlan.Step, _ plan: RTSPPlan, engine: String, round: Int, options: BenchOptions,
                         env: BenchEnvironment) throws(RelayLaunchError) -> BenchResult {
        let relay = try Self.startRelay(path: options.relayPath, engine: engine, readers: step.readers, cpu: env.relayCPU)
        let load = RTSPLoad(relayPort: relay.port, relayPid: relay.pid, path: Self.path, stream: plan.stream(step),
                            transport: step.transport, readers: step.readers, warmupNs: plan.warmupNs, settleNs: plan.settleNs,
                            durationNs: plan.durationNs, cpu: env.loadCPU)
        let outcome = load.execute()
        let rss = ProcessUsage.peakRSSBytes(pid: relay.pid)
        let exit = relay.stop()
        var r = result(outcome, step, engine: engine, round: round, plan: plan)
        if exit != "exit 0" { r.problems.append("relay \(exit)") }
        if let rss { r.metrics.append(Metric(key: "relay_peak_rss_mib", label: "relay peak RSS (MiB)", value: Double(rss) / 1048576, decimals: 1)) }
        return r
    }

    /// `uring-relay rtsp --path bench=publish`, ready once it accepts RTSP connections; room
    /// for every reader (and the publisher) within its admission limits.
    static func startRelay(path: String, engine: String, readers: Int, cpu: Int?) throws(RelayLaunchError) -> RelayProcess {
        try RelayProcess.start(path: path, mode: "rtsp", engine: engine,
                               arguments: ["--path", "\(Self.path)=publish", "--max-readers", String(readers + 16), "--pin"], cpu: cpu)
    }

    private func title(_ step: RTSPPlan.Step, _ plan: RTSPPlan) -> String {
        let s = plan.stream(step)
        let how = step.transport == .tcp ? "TCP interleaved" : "UDP"
        return "rtsp fan-out: 1 publisher → \(step.readers) \(how) reader\(step.readers == 1 ? "" : "s"), H.264-like \(step.megabitsPerSecond) Mbit/s, \(s.framesPerSecond) fps, keyframe every \(s.keyframeInterval) frames, ≤\(s.maxPacketBytes)-byte packets (\(Int(s.packetsPerSecond.rounded())) pkt/s in), \(NumberText.fixed(Double(plan.durationNs) / 1e9, 1)) s measured after the readers joined"
    }

    private func result(_ o: RTSPLoadOutcome, _ step: RTSPPlan.Step, engine: String, round: Int, plan: RTSPPlan) -> BenchResult {
        let h = o.histogram
        func us(_ q: Double) -> Double { Double(h.value(atQuantile: q)) / 1000 }
        var metrics = [
            Metric(key: "readers_opened", label: "readers opened", value: Double(o.readersOpened), decimals: 0),
            Metric(key: "readers_held", label: "readers held to the end", value: Double(o.readersHeld), decimals: 0),
            Metric(key: "readers_given_sps_pps", label: "readers given SPS/PPS first", value: Double(o.readersGivenParameterSets), decimals: 0),
        ]
        if let p50 = o.firstFrameMs(atQuantile: 0.5), let p99 = o.firstFrameMs(atQuantile: 0.99) {
            metrics.append(Metric(key: "first_frame_p50_ms", label: "time to first frame p50 (ms)", value: p50, decimals: 1))
            metrics.append(Metric(key: "first_frame_p99_ms", label: "time to first frame p99 (ms)", value: p99, decimals: 1))
        }
        metrics += [
            Metric(key: "delivered_packets_per_s", label: "delivered packets/s (all readers)", value: o.deliveredPerSecond, decimals: 0),
            Metric(key: "lost_packets", label: "lost packets", value: Double(o.lostPackets), decimals: 0),
            Metric(key: "loss_percent", label: "loss (%)", value: o.lossPercent, decimals: 3),
            Metric(key: "latency_p50_us", label: "latency p50 (µs)", value: us(0.5), decimals: 1),
            Metric(key: "latency_p99_us", label: "latency p99 (µs)", value: us(0.99), decimals: 1),
            Metric(key: "latency_max_us", label: "latency max (µs)", value: Double(h.max) / 1000, decimals: 1),
            Metric(key: "publisher_max_lag_ms", label: "publisher max lag (ms)", value: Double(o.publisherMaxLagNs) / 1e6, decimals: 1),
        ]
        if let pct = o.relayCPUPercent {
            metrics.append(Metric(key: "relay_cpu_percent", label: "relay CPU (% of a core)", value: pct, decimals: 1))
        }
        if let cpu = o.relayCPUSecondsPerMillionPackets {
            metrics.append(Metric(key: "relay_cpu_s_per_1m_packets", label: "relay CPU s per 1M packets", value: cpu, decimals: 2))
        }
        return BenchResult(
            scenario: name, workload: "fanout", engine: engine, round: round,
            params: [("transport", step.transport == .tcp ? "tcp" : "udp"), ("readers", String(step.readers)),
                     ("bitrate_mbit_s", String(step.megabitsPerSecond)), ("packets_per_s_in", NumberText.fixed(plan.stream(step).packetsPerSecond, 1)),
                     ("duration_s", String(Double(plan.durationNs) / 1e9)), ("warmup_s", String(Double(plan.warmupNs) / 1e9))],
            table: title(step, plan), problems: o.problems, metrics: metrics, histogram: o.histogram.count > 0 ? o.histogram : nil)
    }

    private func progress(_ r: BenchResult, rounds: Int) {
        let head = "rtsp round \(r.round)/\(rounds) \(r.engine) \(r.params[0].1) readers=\(r.params[1].1) \(r.params[2].1) Mbit/s:"
        guard r.valid else {
            Console.err("\(head) INVALID: " + r.problems.prefix(3).joined(separator: "; ")
                        + (r.problems.count > 3 ? "; (\(r.problems.count - 3) more)" : ""))
            return
        }
        let shown = r.metrics.filter { ["readers_held", "first_frame_p50_ms", "delivered_packets_per_s", "loss_percent", "relay_cpu_percent"].contains($0.key) }
        Console.err("\(head) " + shown.map { "\($0.label) \(NumberText.fixed($0.value, $0.decimals))" }.joined(separator: ", "))
    }
}
