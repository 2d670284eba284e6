import FoundationXML
import Foundation
import Testing
@testable import relay_bench
@testable import UringRelay

/// The SVG writer of `relay-bench --svg`: output is well-formed XML, carries its titles, axis
/// labels, ticks and legend, and every drawn point lies inside the plot area. Nothing is timed.
@Suite struct BenchSVGTests {
    /// Every element with its attributes, and the text of each <text> element, via XMLParser
    /// (which fails on anything that is not well-formed).
    final class Collector: NSObject, XMLParserDelegate {
        var elements: [(name: String, attributes: [String: String])] = []
        var texts: [String] = []
        private var current: String?

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            elements.append((name, attributes))
            if name == "text" { current = "" }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { current? += string }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "text", let t = current { texts.append(t); current = nil }
        }
    }

    static func parse(_ svg: String) -> (ok: Bool, Collector) {
        let c = Collector()
        let p = XMLParser(data: Data(svg.utf8))
        p.delegate = c
        return (p.parse(), c)
    }

    static func chart() -> SVGLineChart {
        SVGLineChart(
            title: ["Latency <by> percentile & more", "second line"],
            xAxis: ChartAxis(title: "percentile (log scale of nines)", scale: .nines, min: 0.5, max: 0.9999),
            yAxis: .logarithmic("latency (µs, log scale)", covering: 80, 4000),
            series: [
                ChartSeries(name: "uring", points: [(0.5, 80), (0.9, 120), (0.99, 900), (0.9999, 4000)], color: "#1f77b4"),
                // Out of range on both axes: must be clamped into the plot, not drawn outside it.
                ChartSeries(name: "epoll", points: [(0.1, 1), (0.99999, 1e9)], color: "#d62728", markers: true, hollow: [true, false]),
            ],
            notes: ["a note"])
    }

    @Test func wellFormedWithTitlesAxesTicksAndLegend() {
        let svg = Self.chart().render()
        let (ok, c) = Self.parse(svg)
        #expect(ok)
        #expect(c.elements.first?.name == "svg")
        #expect(c.texts.contains("Latency <by> percentile & more"))  // escaped in the file, intact when read back
        #expect(!svg.contains("<by>"))
        for label in ["percentile (log scale of nines)", "latency (µs, log scale)", "uring", "epoll", "a note",
                      "p50", "p90", "p99", "p99.9", "p99.99", "100", "1k"] {
            #expect(c.texts.contains(label), "missing text \(label)")
        }
        #expect(c.elements.filter { $0.name == "polyline" }.count == 2)
        #expect(c.elements.filter { $0.name == "circle" }.map { $0.attributes["fill"] } == ["white", "#d62728"])
    }

    @Test func everyPointInsideThePlotArea() {
        let chart = Self.chart()
        let a = chart.plotArea
        let (_, c) = Self.parse(chart.render())
        var points: [(Double, Double)] = []
        for e in c.elements {
            if e.name == "polyline", let text = e.attributes["points"] {
                for pair in text.split(separator: " ") {
                    let xy = pair.split(separator: ",").compactMap { Double($0) }
                    #expect(xy.count == 2)
                    if xy.count == 2 { points.append((xy[0], xy[1])) }
                }
            }
            if e.name == "circle", let x = e.attributes["cx"].flatMap(Double.init), let y = e.attributes["cy"].flatMap(Double.init) {
                points.append((x, y))
            }
        }
        #expect(points.count == 8)
        for (x, y) in points {
            #expect(x >= a.left && x <= a.right && y >= a.top && y <= a.bottom, "(\(x), \(y)) outside the plot")
        }
        // Higher values are drawn higher (SVG y grows downwards), lower percentiles further left.
        let p50 = chart.position(x: 0.5, y: chart.yAxis.min), p99 = chart.position(x: 0.99, y: 900)
        #expect(p50.x == a.left && p50.y == a.bottom)
        #expect(p99.x > p50.x && p99.y < p50.y)
    }

    @Test func axesMapAndTick() {
        let nines = ChartAxis(title: "", scale: .nines, min: 0.5, max: 0.9999)
        // p99 is 2 nines on an axis from 0.301 to 4 nines.
        #expect(abs(nines.fraction(0.99) - (2 - 0.30103) / (4 - 0.30103)) < 1e-4)
        #expect(nines.fraction(0.99999) == 1 && nines.fraction(0.1) == 0)
        let log = ChartAxis.logarithmic("", covering: 63, 4100)
        #expect(log.min == 50 && log.max == 5000)
        #expect(log.ticks().map(\.label) == ["50", "100", "200", "500", "1k", "2k", "5k"])
        let wide = ChartAxis.logarithmic("", covering: 3000, 900_000)
        #expect(wide.ticks().map(\.label) == ["10k", "100k", "1M"] || wide.ticks().map(\.label).allSatisfy { $0.hasSuffix("0k") || $0.hasSuffix("M") || $0.hasSuffix("k") })
        #expect(ChartAxis(title: "", scale: .linear, min: 0, max: 10).ticks().map(\.value) == [0, 2, 4, 6, 8, 10])
    }

    @Test func chartsFromBenchResults() {
        var h = LatencyHistogram()
        for v in stride(from: UInt64(100_000), through: 2_000_000, by: 1000) { h.record(v) }  // 100 µs … 2 ms
        func rr(_ engine: String, _ round: Int) -> BenchResult {
            BenchResult(scenario: "tcp", workload: "rr", engine: engine, round: round, params: [("connections", "64"), ("message_bytes", "128")],
                        table: "rr table", problems: [], metrics: [], histogram: h)
        }
        var sweep = BenchResult(scenario: "smtp", workload: "sweep", engine: "uring", round: 1,
                                params: [("relay_mode", "smtp"), ("sessions", "32"), ("message_bytes", "1024")],
                                table: "sweep table", problems: [], metrics: [])
        sweep.sweep = [SweepPoint(offeredRate: 1000, measuredRate: 1000, held: true),
                       SweepPoint(offeredRate: 2000, measuredRate: 1200, held: false, problem: "fell behind")]
        let charts = BenchCharts(results: [rr("uring", 1), rr("epoll", 1), rr("uring", 2), sweep], tables: ["rr table", "sweep table", "empty"]).charts()
        #expect(charts.map(\.file) == ["tcp-rr-64conn-128B-latency.svg", "smtp-sweep-32sess-1KiB-throughput.svg"])
        let latency = charts[0].chart
        #expect(latency.series.map(\.name) == ["uring", "epoll"])
        // From p50 (about 1.05 ms) up to p99.99 (the 2 ms maximum), inside the axis.
        let ys = latency.series[0].points.map(\.y)
        #expect(abs(ys.first! - 1050) < 20 && abs(ys.last! - 2000) < 10)
        #expect(latency.yAxis.min <= ys.first! && latency.yAxis.max >= ys.last!)
        #expect(latency.notes.contains("uring: 2 rounds, \(2 * h.count) samples"))
        let throughput = charts[1].chart
        #expect(throughput.series.map(\.name) == ["uring", "offered (ideal)"])
        #expect(throughput.series[0].hollow == [false, true])
        #expect(throughput.xAxis.title.contains("messages/s"))
        for (_, chart) in charts { #expect(Self.parse(chart.render()).ok) }
    }
}
