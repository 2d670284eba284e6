import Glibc
import UringRelay

/// Flags shared by every scenario: `relay-bench SCENARIO [--quick] [--relay PATH] [--rounds N] [--json FILE]`.
struct BenchOptions {
    var quick = false
    var relayPath: String
    /// Rounds; each round runs every engine once (A/B/A/B).
    var rounds: Int
    var jsonPath: String?
    /// `--svg DIR`: latency and throughput charts are written there.
    var svgDirectory: String?
    /// `--workload`: only these workloads (empty: every one of the chosen scenarios).
    var workloads: [String] = []
    /// `--duration`: the measured window of every run (and every sweep step), overriding the plan.
    var durationNs: UInt64?
    /// `--syscalls`: count the relay's system calls during each bulk, request/response,
    /// saturation and open-loop run (perf stat).
    var countSyscalls = false
    /// Everything parsed, for the flags a scenario adds (BenchScenario.flags).
    var flags = ParsedFlags()

    static func parser(command: String, summary: String, scenarioFlags: [FlagSpec] = []) -> FlagParser {
        FlagParser(command: command, summary: summary, specs: [
            FlagSpec("quick", help: "short run: fewer rounds, connections and seconds (all --quick: about two minutes)"),
            FlagSpec("relay", value: "PATH", help: "uring-relay binary to measure", default: "uring-relay next to relay-bench"),
            FlagSpec("rounds", value: "N", help: "rounds, engines interleaved A/B within each", default: "2 with --quick, else 5"),
            FlagSpec("json", value: "FILE", help: "also write every run with its environment as JSON"),
            FlagSpec("svg", value: "DIR", help: "also write SVG charts there: latency percentiles per table, throughput versus offered load per sweep"),
            FlagSpec("syscalls", help: "count the relay's system calls per run with perf stat (root); adds syscalls per message and per MiB (not in sweeps)"),
            FlagSpec("workload", value: "NAME", help: "run only this workload (tcp: bulk, rr, sweep; smtp: saturation, open, sweep)", repeatable: true, default: "all"),
            FlagSpec("duration", value: "D", help: "measured window of every run and sweep step, e.g. 500ms or 10s", default: "per workload, see above"),
        ] + scenarioFlags)
    }

    static func parse(_ args: [String], parser: FlagParser) throws(UsageError) -> BenchOptions {
        let f = try parser.parse(args)
        try f.expectNoPositionals()
        let quick = f.flag("quick")
        return BenchOptions(
            quick: quick,
            relayPath: try f.string("relay") ?? defaultRelayPath(),
            rounds: try f.int("rounds", default: quick ? 2 : 5, range: 1...100),
            jsonPath: try f.string("json"),
            svgDirectory: try f.string("svg"),
            workloads: try f.strings("workload"),
            durationNs: f.values["duration"] == nil ? nil : UInt64(try f.milliseconds("duration", default: 0, range: 10...3_600_000)) * 1_000_000,
            countSyscalls: f.flag("syscalls"),
            flags: f)
    }

    /// Whether `workload` of a scenario is to run.
    func runs(_ workload: String) -> Bool { workloads.isEmpty || workloads.contains(workload) }

    /// dirname(/proc/self/exe) + "/uring-relay".
    static func defaultRelayPath() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return "uring-relay" }
        let exe = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = exe.lastIndex(of: "/") else { return "uring-relay" }
        return String(exe[..<slash]) + "/uring-relay"
    }
}
