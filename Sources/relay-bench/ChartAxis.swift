import Glibc

/// One axis of a chart: how values map onto it and where its ticks go.
struct ChartAxis {
    enum Scale {
        case linear
        /// log10; min and max must be > 0.
        case logarithmic
        /// Percentiles as "nines": p ↦ -log10(1 - p), so 50, 90, 99, 99.9 and 99.99 are evenly
        /// spaced and the tail gets as much room as the median. Values are fractions (0.5…0.9999).
        case nines
    }

    var title: String
    var scale: Scale
    var min: Double
    var max: Double

    /// Where `value` lies between min (0) and max (1), clamped to that range so nothing is ever
    /// drawn outside the plot area.
    func fraction(_ value: Double) -> Double {
        let (a, b, v) = (transform(min), transform(max), transform(value))
        guard b > a, v.isFinite else { return 0 }
        return Swift.min(1, Swift.max(0, (v - a) / (b - a)))
    }

    private func transform(_ v: Double) -> Double {
        switch scale {
        case .linear: return v
        case .logarithmic: return log10(Swift.max(v, 1e-300))
        case .nines: return -log10(Swift.max(1 - v, 1e-12))
        }
    }

    /// Tick values with their labels, all within min…max.
    func ticks() -> [(value: Double, label: String)] {
        switch scale {
        case .nines:
            let all: [(Double, String)] = [(0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.999, "p99.9"), (0.9999, "p99.99"), (0.99999, "p99.999")]
            return all.filter { $0.0 >= min - 1e-12 && $0.0 <= max + 1e-12 }
        case .logarithmic:
            // Decades, with 2 and 5 in between when the axis spans few of them.
            let steps: [Double] = log10(max / min) <= 2.5 ? [1, 2, 5] : [1]
            var out: [(Double, String)] = []
            var decade = pow(10, floor(log10(min)))
            while decade <= max * 1.000001 {
                for s in steps {
                    let v = decade * s
                    if v >= min * 0.999999 && v <= max * 1.000001 { out.append((v, Self.label(v))) }
                }
                decade *= 10
            }
            return out
        case .linear:
            let span = max - min
            guard span > 0 else { return [(min, Self.label(min))] }
            let raw = span / 5
            let magnitude = pow(10, floor(log10(raw)))
            let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
            var out: [(Double, String)] = []
            var v = ceil(min / step) * step
            while v <= max + step * 1e-9 {
                out.append((v, Self.label(v)))
                v += step
            }
            return out
        }
    }

    /// Short tick labels: 500, 2k, 1.5M.
    static func label(_ v: Double) -> String {
        func trimmed(_ x: Double) -> String { NumberText.fixed(x, x == x.rounded() ? 0 : 1) }
        if abs(v) >= 1e6 { return trimmed(v / 1e6) + "M" }
        if abs(v) >= 1e3 { return trimmed(v / 1e3) + "k" }
        if abs(v) >= 1 || v == 0 { return trimmed(v) }
        return NumberText.fixed(v, 3)
    }

    /// A log axis from the power-of-ten (or 2× or 5× one) at or below `low` to the one at or
    /// above `high`, so the data never touches an unlabeled edge.
    static func logarithmic(_ title: String, covering low: Double, _ high: Double) -> ChartAxis {
        let lo = Swift.max(low, 1e-9), hi = Swift.max(high, lo * 1.0001)
        func down(_ v: Double) -> Double {
            let d = pow(10, floor(log10(v)))
            return [5.0, 2, 1].map { $0 * d }.first { $0 <= v * 1.000001 } ?? d
        }
        func up(_ v: Double) -> Double {
            let d = pow(10, floor(log10(v)))
            return [1.0, 2, 5, 10].map { $0 * d }.first { $0 >= v * 0.999999 } ?? 10 * d
        }
        return ChartAxis(title: title, scale: .logarithmic, min: down(lo), max: up(hi))
    }
}
