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
    /// `--engine`: uring-relay's engines to measure, in this order.
    var engines = ["uring", "epoll"]
    /// `--external-relay/-pid/-name`: relays already running, measured beside the engines.
    var externals: [ExternalRelay] = []
    /// `--peer-port`, `--sink-port`: fixed ports for relay-bench's tcp peer and SMTP sink, so an
    /// external relay can be configured to relay there before relay-bench starts (0: any).
    var peerPort: UInt16 = 0
    var sinkPort: UInt16 = 0

    /// Every column, engines first.
    var targets: [BenchTarget] { engines.map { .engine($0) } + externals.map { .external($0) } }
    /// Everything parsed, for the flags a scenario adds (BenchScenario.flags).
    var flags = ParsedFlags()

    static func parser(command: String, summary: String, scenarioFlags: [FlagSpec] = []) -> FlagParser {
        FlagParser(command: command, summary: summary, specs: [
            FlagSpec("quick", help: "short run: fewer rounds, connections and seconds (all --quick: about two and a half minutes)"),
            FlagSpec("relay", value: "PATH", help: "uring-relay binary to measure", default: "uring-relay next to relay-bench"),
            FlagSpec("rounds", value: "N", help: "rounds, engines interleaved A/B within each", default: "2 with --quick, else 5"),
            FlagSpec("json", value: "FILE", help: "also write every run with its environment as JSON"),
            FlagSpec("svg", value: "DIR", help: "also write SVG charts there: latency percentiles per table, throughput versus offered load per sweep"),
            FlagSpec("syscalls", help: "count the relay's system calls per run with perf stat (root); adds syscalls per message and per MiB (not in sweeps)"),
            FlagSpec("engine", value: "E", help: "uring-relay engine to measure: uring or epoll", repeatable: true, default: "uring and epoll"),
            FlagSpec("external-relay", value: "HOST:PORT", help: "also measure a relay that is already running there and relays to --peer-port / --sink-port (127.0.0.1 only)", repeatable: true),
            FlagSpec("external-pid", value: "PID", help: "its pid (CPU time and memory are its process tree's); one per --external-relay", repeatable: true),
            FlagSpec("external-name", value: "NAME", help: "its column name, e.g. haproxy; one per --external-relay", repeatable: true),
            FlagSpec("peer-port", value: "PORT", help: "tcp: port of relay-bench's sink/echo peer on 127.0.0.1", default: "any free port"),
            FlagSpec("sink-port", value: "PORT", help: "smtp: port of relay-bench's SMTP sink on 127.0.0.1", default: "any free port"),
            FlagSpec("workload", value: "NAME", help: "run only this workload (tcp: bulk, rr, sweep; smtp: saturation, open, sweep)", repeatable: true, default: "all"),
            FlagSpec("duration", value: "D", help: "measured window of every run and sweep step, e.g. 500ms or 10s", default: "per workload, see above"),
        ] + scenarioFlags)
    }

    static func parse(_ args: [String], parser: FlagParser) throws(UsageError) -> BenchOptions {
        let f = try parser.parse(args)
        try f.expectNoPositionals()
        let quick = f.flag("quick")
        var engines: [String] = []
        for e in try f.strings("engine") {
            guard ["uring", "epoll"].contains(e) else { throw .invalid("--engine must be uring or epoll, got \(e)") }
            if !engines.contains(e) { engines.append(e) }
        }
        let relays = try f.strings("external-relay"), pids = try f.strings("external-pid"), names = try f.strings("external-name")
        guard relays.count == pids.count && relays.count == names.count else {
            throw .invalid("each --external-relay needs one --external-pid and one --external-name")
        }
        var externals: [ExternalRelay] = []
        for i in relays.indices {
            let parts = relays[i].split(separator: ":")
            guard parts.count == 2, parts[0] == "127.0.0.1" || parts[0] == "localhost", let port = UInt16(parts[1]), port > 0 else {
                throw .invalid("--external-relay expects 127.0.0.1:PORT (loopback only), got \(relays[i])")
            }
            guard let pid = Int32(pids[i]), pid > 0 else { throw .invalid("--external-pid expects a pid, got \(pids[i])") }
            guard !names[i].isEmpty, !["uring", "epoll"].contains(names[i]), !externals.contains(where: { $0.name == names[i] }) else {
                throw .invalid("--external-name \(names[i]): names must be unique and not uring or epoll")
            }
            externals.append(ExternalRelay(name: names[i], port: port, pid: pid))
        }
        var options = BenchOptions(
            quick: quick,
            relayPath: try f.string("relay") ?? defaultRelayPath(),
            rounds: try f.int("rounds", default: quick ? 2 : 5, range: 1...100),
            jsonPath: try f.string("json"),
            svgDirectory: try f.string("svg"),
            workloads: try f.strings("workload"),
            durationNs: f.values["duration"] == nil ? nil : UInt64(try f.milliseconds("duration", default: 0, range: 10...3_600_000)) * 1_000_000,
            countSyscalls: f.flag("syscalls"),
            flags: f)
        options.engines = engines.isEmpty ? ["uring", "epoll"] : engines
        options.externals = externals
        options.peerPort = UInt16(try f.int("peer-port", default: 0, range: 0...65535))
        options.sinkPort = UInt16(try f.int("sink-port", default: 0, range: 0...65535))
        return options
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
