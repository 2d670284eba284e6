/// Terminal table for one workload: metric | uring | epoll | uring/epoll, where each engine cell
/// is the median over valid rounds with the range (min–max) when there were several.
struct ReportTable {
    var title: String
    var results: [BenchResult]
    /// Engine → why it did not run.
    var unavailable: [String: String]
    /// Columns: uring and epoll first (always, so a missing engine shows as such), then any
    /// external relays in order of appearance; the last column is uring/epoll.
    var engines: [String] {
        var out = ["uring", "epoll"]
        for r in results where !out.contains(r.engine) { out.append(r.engine) }
        for e in unavailable.keys.sorted() where !out.contains(e) { out.append(e) }
        return out
    }

    func render() -> String {
        let engines = self.engines
        var rows: [[String]] = [["metric"] + engines + ["uring/epoll"]]
        let valid = engines.map { e in results.filter { $0.engine == e && $0.valid } }
        let all = engines.map { e in results.filter { $0.engine == e } }
        rows.append(["valid runs"] + engines.indices.map { i in
            unavailable[engines[i]] != nil ? "unavailable" : "\(valid[i].count)/\(all[i].count)"
        } + [""])
        var keys: [(String, String, Int)] = []
        for r in results { for m in r.metrics where !keys.contains(where: { $0.0 == m.key }) { keys.append((m.key, m.label, m.decimals)) } }
        for (key, label, decimals) in keys {
            let spreads = valid.map { runs in Spread(runs.compactMap { $0.metrics.first(where: { $0.key == key })?.value }) }
            var row = [label]
            for (i, s) in spreads.enumerated() {
                if unavailable[engines[i]] != nil { row.append("-"); continue }
                guard let s else { row.append(all[i].isEmpty ? "-" : "INVALID"); continue }
                var cell = NumberText.fixed(s.median, decimals)
                if s.count > 1 { cell += " (\(NumberText.fixed(s.min, decimals))–\(NumberText.fixed(s.max, decimals)))" }
                row.append(cell)
            }
            if let a = spreads[0], let b = spreads[1], b.median != 0 {  // uring, epoll
                row.append(NumberText.fixed(a.median / b.median, 2))
            } else {
                row.append("-")
            }
            rows.append(row)
        }
        var widths = [Int](repeating: 0, count: rows[0].count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ r: [String]) -> String {
            r.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return i == 0 ? c + pad : pad + c
            }.joined(separator: " | ")
        }
        var out = [title, line(rows[0]), widths.map { String(repeating: "-", count: $0) }.joined(separator: "-+-")]
        out += rows.dropFirst().map(line)
        for e in engines { if let why = unavailable[e] { out.append("  \(e) unavailable: \(why)") } }
        return out.joined(separator: "\n")
    }
}
