import Glibc
import UringRelay

/// relay-bench SCENARIO [flags]. Exit codes: 0 done (even with INVALID runs, which the report
/// shows), 1 nothing could be measured, 2 usage error.
let scenarios: [any BenchScenario] = [TCPScenario(), SMTPScenario(), RTPScenario(), RTSPScenario()]

let usage = """
usage: relay-bench SCENARIO [--quick] [--relay PATH] [--rounds N] [--json FILE] [--svg DIR] [flags]

Benchmarks the uring-relay binary with its io_uring and epoll engines side by side:
the relay runs as a child process (pinned to CPU 0 when there are 2+ cores), relay-bench's
load generators and peers run on CPU 1. Engines are interleaved A/B/A/B over rounds; tables
show the median over valid rounds and the range (min–max).

scenarios:
\(scenarios.map { "  " + $0.name.padding(5) + "  " + $0.summary }.joined(separator: "\n"))
  all    every scenario above

Run `relay-bench SCENARIO --help` for the flags.

"""

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else {
    Console.err(usage)
    exit(2)
}

let chosen: [any BenchScenario]
let parser: FlagParser
switch command {
case "-h", "--help", "help":
    print(usage, terminator: "")
    exit(0)
case "all":
    chosen = scenarios
    parser = BenchOptions.parser(command: "relay-bench all",
                                 summary: "Runs every scenario: \(scenarios.map(\.name).joined(separator: ", ")).\n\n" + scenarios.map(\.matrix).joined(separator: "\n\n"),
                                 scenarioFlags: scenarios.flatMap(\.flags))
default:
    guard let s = scenarios.first(where: { $0.name == command }) else {
        Console.fail("unknown scenario \"\(command)\" (expected \(scenarios.map(\.name).joined(separator: ", ")) or all; see relay-bench --help)", code: 2)
    }
    chosen = [s]
    parser = BenchOptions.parser(command: "relay-bench \(s.name)", summary: s.summary + ".\n\n" + s.matrix, scenarioFlags: s.flags)
}

let options: BenchOptions
do throws(UsageError) {
    options = try BenchOptions.parse(Array(arguments.dropFirst()), parser: parser)
    for s in chosen { try s.checkFlags(options.flags) }
    let known = chosen.flatMap(\.workloads)
    for w in options.workloads where !known.contains(w) {
        throw UsageError.invalid("--workload \(w): no such workload (\(chosen.map { "\($0.name): \($0.workloads.joined(separator: ", "))" }.joined(separator: "; ")))")
    }
} catch .helpRequested {
    print(parser.helpText, terminator: "")
    exit(0)
} catch {
    Console.fail("\(error)", code: 2)
}

let environment = BenchEnvironment.detect()
Console.err("relay-bench: \(environment.cpuModel), \(environment.cores) cores, kernel \(environment.kernel); \(environment.pinningDescription); relay \(options.relayPath)")

var allResults: [BenchResult] = []
var allTables: [String] = []
var unavailable: [String: String] = [:]
var failures = 0
for scenario in chosen {
    do {
        let report = try scenario.run(options: options, environment: environment)
        allResults += report.results
        allTables += report.tables
        unavailable.merge(report.unavailable) { a, _ in a }
        for title in report.tables {
            let table = ReportTable(title: title, results: report.results.filter { $0.table == title },
                                    unavailable: report.unavailable)
            Console.out("")
            Console.out(table.render())
        }
    } catch {
        Console.err("relay-bench \(scenario.name): \(error)")
        failures += 1
    }
}
if let path = options.jsonPath {
    let json = JSONReport(environment: environment, results: allResults, unavailable: unavailable)
    if !json.write(to: path) { Console.fail("cannot write \(path): \(errnoName(errno))", code: 1) }
    Console.err("relay-bench: wrote \(path)")
}
if let dir = options.svgDirectory {
    switch BenchCharts(results: allResults, tables: allTables).write(to: dir) {
    case .success(let paths): Console.err("relay-bench: wrote \(paths.count) chart(s) into \(dir)")
    case .failure(let e): Console.fail("\(e)", code: 1)
    }
}
exit(failures == chosen.count ? 1 : 0)
