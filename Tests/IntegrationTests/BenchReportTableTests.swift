import Testing
@testable import relay_bench

/// The terminal table: medians over valid rounds with their range, the uring/epoll ratio, and
/// no figure for an engine whose every run was invalid.
@Suite struct BenchReportTableTests {
    func run(_ engine: String, _ round: Int, _ value: Double?, problems: [String] = []) -> BenchResult {
        BenchResult(scenario: "tcp", workload: "bulk", engine: engine, round: round, params: [], table: "t",
                    problems: problems,
                    metrics: value.map { [Metric(key: "gbit", label: "throughput (Gbit/s)", value: $0, decimals: 2)] } ?? [])
    }

    @Test func mediansRangesAndRatio() {
        let table = ReportTable(title: "tcp bulk", results: [
            run("uring", 1, 10), run("uring", 2, 12), run("uring", 3, 11),
            run("epoll", 1, 5), run("epoll", 2, 6), run("epoll", 3, nil, problems: ["lost bytes"]),
        ], unavailable: [:]).render()
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines[0] == "tcp bulk")
        #expect(lines[1].contains("uring") && lines[1].contains("epoll") && lines[1].contains("uring/epoll"))
        let valid = lines.first { $0.hasPrefix("valid runs") } ?? ""
        #expect(valid.contains("3/3") && valid.contains("2/3"), "\(valid)")
        let row = lines.first { $0.hasPrefix("throughput (Gbit/s)") } ?? ""
        #expect(row.contains("11.00 (10.00–12.00)"), "\(row)")
        #expect(row.contains("5.50 (5.00–6.00)"), "the invalid round is left out: \(row)")
        #expect(row.hasSuffix("2.00"), "ratio of the medians, 11 / 5.5: \(row)")
    }

    @Test func allInvalidShowsNoFigureAndUnavailableIsSaid() {
        let table = ReportTable(title: "t", results: [run("uring", 1, 3), run("epoll", 1, nil, problems: ["x"])],
                                unavailable: [:]).render()
        let row = table.split(separator: "\n").first { $0.hasPrefix("throughput") }.map(String.init) ?? ""
        #expect(row.contains("INVALID") && row.hasSuffix("-"), "\(row)")
        let missing = ReportTable(title: "t", results: [run("epoll", 1, 3)], unavailable: ["uring": "io_uring_setup: EPERM"]).render()
        #expect(missing.contains("unavailable") && missing.contains("uring unavailable: io_uring_setup: EPERM"), "\(missing)")
    }
}
