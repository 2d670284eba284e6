import Glibc
import UringRelay

/// The charts `--svg DIR` writes, built from the runs of a report: per latency table, the
/// percentile curve of every engine (histograms of its valid rounds merged); per saturation
/// sweep, measured throughput against offered load, with the ideal (measured = offered) dashed.
struct BenchCharts {
    var results: [BenchResult]
    /// Table titles in print order; a chart per table that has something to draw.
    var tables: [String]

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// File name (no directory) and chart, in table order.
    func charts() -> [(file: String, chart: SVGLineChart)] {
        var out: [(String, SVGLineChart)] = []
        for title in tables {
            let runs = results.filter { $0.table == title }
            guard let first = runs.first else { continue }
            if first.workload == "sweep" {
                if let chart = throughputChart(title, runs) { out.append((fileName(first, "throughput"), chart)) }
            } else if let chart = latencyChart(title, runs) {
                out.append((fileName(first, "latency"), chart))
            }
        }
        return out
    }

    /// Engines (or external relays) in order of first appearance.
    private func engines(_ runs: [BenchResult]) -> [String] {
        var seen: [String] = []
        for r in runs where !seen.contains(r.engine) { seen.append(r.engine) }
        return seen
    }

    private func color(_ engine: String, _ all: [String]) -> String {
        let fixed = ["uring": 0, "epoll": 1]
        let i = fixed[engine] ?? (2 + (all.filter { fixed[$0] == nil }.firstIndex(of: engine) ?? 0))
        return Self.palette[i % Self.palette.count]
    }

    func latencyChart(_ title: String, _ runs: [BenchResult]) -> SVGLineChart? {
        let names = engines(runs)
        var series: [ChartSeries] = []
        var low = Double.infinity, high = 0.0
        var rounds: [String] = []
        // Sampled evenly on the nines scale from p50 (0.301 nines) to p99.99 (4 nines).
        let samples = (0...74).map { i -> Double in
            let nines = 0.30103 + (4 - 0.30103) * Double(i) / 74
            return Swift.min(0.9999, 1 - pow(10, -nines))
        }
        for e in names {
            var merged = LatencyHistogram()
            let valid = runs.filter { $0.engine == e && $0.valid && $0.histogram != nil }
            for r in valid { merged.merge(r.histogram!) }
            guard merged.count > 0 else { continue }
            rounds.append("\(e): \(valid.count) round\(valid.count == 1 ? "" : "s"), \(merged.count) samples")
            let points = samples.map { p in (x: p, y: Swift.max(Double(merged.value(atQuantile: p)) / 1000, 0.001)) }
            for p in points { low = Swift.min(low, p.y); high = Swift.max(high, p.y) }
            series.append(ChartSeries(name: e, points: points, color: color(e, names)))
        }
        guard !series.isEmpty else { return nil }
        return SVGLineChart(
            title: ["Latency by percentile"] + SVGText.wrap(title, width: 100),
            xAxis: ChartAxis(title: "percentile (log scale of nines)", scale: .nines, min: 0.5, max: 0.9999),
            yAxis: .logarithmic("latency (µs, log scale)", covering: low, high),
            series: series,
            notes: ["Histograms of the valid rounds merged per engine."] + rounds)
    }

    func throughputChart(_ title: String, _ runs: [BenchResult]) -> SVGLineChart? {
        let names = engines(runs)
        let unit = runs.first?.scenario == "smtp" ? "messages/s" : "requests/s"
        var series: [ChartSeries] = []
        var low = Double.infinity, high = 0.0
        for e in names {
            // Every step of every round; per offered rate the median measured rate, held only if held in every round.
            var byRate: [Int: [SweepPoint]] = [:]
            for r in runs where r.engine == e { for p in r.sweep { byRate[p.offeredRate, default: []].append(p) } }
            guard !byRate.isEmpty else { continue }
            let rates = byRate.keys.sorted()
            let points = rates.map { rate in (x: Double(rate), y: Spread(byRate[rate]!.map(\.measuredRate))!.median) }
            for p in points {
                low = Swift.min(low, p.x, p.y > 0 ? p.y : p.x)
                high = Swift.max(high, p.x, p.y)
            }
            series.append(ChartSeries(name: e, points: points, color: color(e, names), markers: true,
                                      hollow: rates.map { rate in !byRate[rate]!.allSatisfy(\.held) }))
        }
        guard !series.isEmpty else { return nil }
        let x = ChartAxis.logarithmic("offered load (\(unit), log scale)", covering: low, high)
        series.append(ChartSeries(name: "offered (ideal)", points: [(x.min, x.min), (x.max, x.max)], color: "#888888", dashed: true))
        return SVGLineChart(
            title: ["Throughput versus offered load"] + SVGText.wrap(title, width: 100),
            xAxis: x,
            yAxis: ChartAxis(title: "completed in the window (\(unit), log scale)", scale: .logarithmic, min: x.min, max: x.max),
            series: series,
            notes: ["Filled: held in every round; open: not held in some round.", "Median over rounds per offered rate."])
    }

    /// e.g. "tcp-rr-64conn-128B-latency.svg", "smtp-sweep-32sess-1KiB-throughput.svg",
    /// "rtsp-fanout-udp-10readers-2Mbit-latency.svg".
    func fileName(_ r: BenchResult, _ kind: String) -> String {
        var parts = [r.scenario, r.workload == "open_loop" ? "open" : r.workload]
        for (k, v) in r.params {
            switch k {
            case "connections": parts.append(v + "conn")
            case "sessions": parts.append(v + "sess")
            case "message_bytes", "write_bytes":
                parts.append(Int(v).map { ByteText.short($0).split(separator: " ").joined() } ?? v)
            case "relay_mode" where v != r.scenario: parts.append("via-" + v)
            case "relay": parts.append(v)
            case "transport": parts.append(v)
            case "readers": parts.append(v + "readers")
            case "bitrate_mbit_s": parts.append(v + "Mbit")
            default: break
            }
        }
        return (parts + [kind]).joined(separator: "-") + ".svg"
    }

    /// Writes every chart into `directory` (created if missing); the paths written, or the
    /// first path that failed.
    func write(to directory: String) -> Result<[String], ChartWriteError> {
        guard TextFile.makeDirectory(directory) else { return .failure(ChartWriteError(path: directory, errno: errno)) }
        var written: [String] = []
        for (file, chart) in charts() {
            let path = directory + "/" + file
            guard TextFile.write(chart.render(), to: path) else { return .failure(ChartWriteError(path: path, errno: errno)) }
            written.append(path)
        }
        return .success(written)
    }
}
