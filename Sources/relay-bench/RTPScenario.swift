import Glibc
import UringRelay

/// `relay-bench rtp`: one RTP source → N receivers through `uring-relay rtp --listen ... --to
/// ...` (RTPLoad). Per round, each engine (A/B within the round) runs every receiver count,
/// each with a fresh relay process and fresh receiver sockets (the `--to` list is its command
/// line).
struct RTPScenario: BenchScenario {
    let name = "rtp"
    let summary = "RTP fan-out: one source to N receivers at a fixed packet rate, loss and latency, every datagram verified"
    let workloads = ["fanout"]
    var flags: [FlagSpec] { RTPBenchOptions.specs }

    var matrix: String {
        func steps(_ plan: RTPPlan) -> String {
            plan.steps.map { "  \($0.receivers) receiver(s) at \($0.packetRate) pkt/s" }.joined(separator: "\n")
        }
        return "rtp (fanout), full suite (the default):\n" + steps(.full) + "\nrtp --quick:\n" + steps(.quick)
    }

    func checkFlags(_ flags: ParsedFlags) throws(UsageError) {
        _ = try RTPBenchOptions.parse(flags)
    }

    func run(options: BenchOptions, environment env: BenchEnvironment) throws(BenchFailure) -> ScenarioReport {
        guard options.runs("fanout") else { return ScenarioReport() }
        // External relays (--external-relay) are TCP relays; the rtp load measures uring-relay only.
        let engines = options.engines
        let o: RTPBenchOptions
        do { o = try RTPBenchOptions.parse(options.flags) } catch { throw BenchFailure(message: "\(error)") }
        var plan = options.quick ? RTPPlan.quick : RTPPlan.full
        if !o.receivers.isEmpty {
            // A count the plan has keeps its rate; another takes the rate of the nearest smaller one.
            plan.steps = o.receivers.map { n in
                plan.steps.last { $0.receivers <= n }.map { RTPPlan.Step(receivers: n, packetRate: $0.packetRate) }
                    ?? RTPPlan.Step(receivers: n, packetRate: plan.steps[0].packetRate)
            }
        }
        if let rate = o.packetRate { for i in plan.steps.indices { plan.steps[i].packetRate = rate } }
        if let bytes = o.packetBytes { plan.packetBytes = bytes }
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
                        Console.err("rtp \(engine): unavailable: \(error.message)")
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

    /// One run: receivers, a relay sending to them, the load, the relay's peak RSS.
    private func measure(_ step: RTPPlan.Step, _ plan: RTPPlan, engine: String, round: Int, options: BenchOptions,
                         env: BenchEnvironment) throws(RelayLaunchError) -> BenchResult {
        let receivers: RTPReceiverSockets
        do {
            receivers = try RTPReceiverSockets(count: step.receivers, receiveBufferBytes: RTPPlan.receiveBufferBytes(receivers: step.receivers))
        } catch {
            throw RelayLaunchError(message: "receiver sockets: \(error)")
        }
        let relay = try Self.startRelay(path: options.relayPath, engine: engine, receivers: receivers, cpu: env.relayCPU)
        let load = RTPLoad(relayPort: relay.port, relayPid: relay.pid, receivers: receivers, packetRate: step.packetRate,
                           packetBytes: plan.packetBytes, warmupNs: plan.warmupNs, durationNs: plan.durationNs, cpu: env.loadCPU)
        let outcome = load.execute()
        let rss = ProcessUsage.peakRSSBytes(pid: relay.pid)
        let exit = relay.stop()
        var r = result(outcome, engine: engine, round: round, plan: plan)
        if exit != "exit 0" { r.problems.append("relay \(exit)") }
        if let rss { r.metrics.append(Metric(key: "relay_peak_rss_mib", label: "relay peak RSS (MiB)", value: Double(rss) / 1048576, decimals: 1)) }
        return r
    }

    /// `uring-relay rtp` to these receivers, ready once it logs its start-up line (it has no
    /// TCP listener to connect to). The port comes from a free TCP port; if its UDP pair is
    /// taken the relay exits at once, and another port is tried.
    static func startRelay(path: String, engine: String, receivers: RTPReceiverSockets, cpu: Int?) throws(RelayLaunchError) -> RelayProcess {
        var lastError = RelayLaunchError(message: "not started")
        for _ in 0..<3 {
            do {
                return try RelayProcess.start(path: path, mode: "rtp", engine: engine,
                                              arguments: receivers.relayArguments + ["--pin", "--stats-interval", "0"], cpu: cpu,
                                              ready: { $0.lastLogLine()?.contains("rtp relay listening on") == true })
            } catch {
                lastError = error
                if !error.message.contains("cannot listen") { throw error }
            }
        }
        throw lastError
    }

    private func title(_ step: RTPPlan.Step, _ plan: RTPPlan) -> String {
        "rtp fan-out: 1 source → \(step.receivers) receiver\(step.receivers == 1 ? "" : "s"), \(plan.packetBytes)-byte packets at \(step.packetRate) pkt/s (\(step.receivers * step.packetRate) datagrams/s out), open loop, \(NumberText.fixed(Double(plan.durationNs) / 1e9, 1)) s after \(plan.warmupNs / 1_000_000) ms warm-up"
    }

    private func result(_ o: RTPLoadOutcome, engine: String, round: Int, plan: RTPPlan) -> BenchResult {
        let h = o.histogram
        func us(_ q: Double) -> Double { Double(h.value(atQuantile: q)) / 1000 }
        var metrics = [
            Metric(key: "delivered_datagrams_per_s", label: "delivered datagrams/s", value: o.deliveredPerSecond, decimals: 0),
            Metric(key: "lost_datagrams", label: "lost datagrams", value: Double(o.lostDatagrams), decimals: 0),
            Metric(key: "loss_percent", label: "loss (%)", value: o.lossPercent, decimals: 3),
            Metric(key: "latency_p50_us", label: "latency p50 (µs)", value: us(0.5), decimals: 1),
            Metric(key: "latency_p90_us", label: "latency p90 (µs)", value: us(0.9), decimals: 1),
            Metric(key: "latency_p99_us", label: "latency p99 (µs)", value: us(0.99), decimals: 1),
            Metric(key: "latency_p99_9_us", label: "latency p99.9 (µs)", value: us(0.999), decimals: 1),
            Metric(key: "latency_max_us", label: "latency max (µs)", value: Double(h.max) / 1000, decimals: 1),
        ]
        if let cpu = o.relayCPUSecondsPerMillionDatagrams {
            metrics.append(Metric(key: "relay_cpu_s_per_1m_datagrams", label: "relay CPU s per 1M datagrams", value: cpu, decimals: 2))
        }
        return BenchResult(
            scenario: name, workload: "fanout", engine: engine, round: round,
            params: [("receivers", String(o.receivers)), ("packet_rate_pkt_s", String(o.packetRate)), ("packet_bytes", String(o.packetBytes)),
                     ("duration_s", String(Double(plan.durationNs) / 1e9)), ("warmup_s", String(Double(plan.warmupNs) / 1e9))],
            table: title(RTPPlan.Step(receivers: o.receivers, packetRate: o.packetRate), plan), problems: o.problems, metrics: metrics)
    }

    private func progress(_ r: BenchResult, rounds: Int) {
        let head = "rtp round \(r.round)/\(rounds) \(r.engine) receivers=\(r.params[0].1) rate=\(r.params[1].1):"
        guard r.valid else {
            Console.err("\(head) INVALID: " + r.problems.prefix(3).joined(separator: "; ")
                        + (r.problems.count > 3 ? "; (\(r.problems.count - 3) more)" : ""))
            return
        }
        let shown = r.metrics.filter { ["delivered_datagrams_per_s", "loss_percent", "latency_p50_us", "latency_p99_us", "relay_cpu_s_per_1m_datagrams"].contains($0.key) }
        Console.err("\(head) " + shown.map { "\($0.label) \(NumberText.fixed($0.value, $0.decimals))" }.joined(separator: ", "))
    }
}
