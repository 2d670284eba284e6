#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import UringRelay

@Suite struct LatencyHistogramTests {
    /// Exact percentile with the same rank rule: value of rank ceil(q·n), at least 1.
    func exact(_ sorted: [UInt64], _ q: Double) -> UInt64 {
        var rank = Int((q * Double(sorted.count)).rounded(.up))
        rank = min(max(rank, 1), sorted.count)
        return sorted[rank - 1]
    }

    @Test func emptyIsZero() {
        let h = LatencyHistogram()
        #expect(h.count == 0)
        #expect(h.value(atQuantile: 0.5) == 0)
        #expect(h.mean == 0)
    }

    @Test func smallValuesAreExact() {
        var h = LatencyHistogram()
        for v in UInt64(0)..<256 { h.record(v) }
        for v in UInt64(1)...256 {
            #expect(h.value(atQuantile: Double(v) / 256) == v - 1)
        }
        #expect(h.min == 0 && h.max == 255 && h.count == 256)
    }

    @Test func indexIsMonotonicAndBoundsContainValue() {
        var previous = -1
        var v: UInt64 = 0
        while v < 1 << 40 {
            let i = LatencyHistogram.index(of: v)
            #expect(i >= previous)
            let (low, high) = LatencyHistogram.bounds(of: i)
            #expect(low <= v && v <= high)
            if v >= 256 { #expect(Double(high - low + 1) / Double(low) <= 1.0 / 128 + 1e-12) }
            previous = i
            v = v < 1024 ? v + 1 : v + v / 97 + 1
        }
        let top = LatencyHistogram.index(of: .max)
        #expect(top == LatencyHistogram.bucketCount - 1)
        #expect(LatencyHistogram.bounds(of: top).high == .max)
    }

    @Test func bucketEdgesAroundPowersOfTwo() {
        for m in 8..<63 {
            let p = UInt64(1) << UInt64(m)
            let below = LatencyHistogram.index(of: p - 1)
            let at = LatencyHistogram.index(of: p)
            #expect(at == below + 1)
            #expect(LatencyHistogram.bounds(of: at).low == p)
        }
    }

    @Test func percentilesWithinOnePercent() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            var h = LatencyHistogram()
            var values: [UInt64] = []
            for _ in 0..<20_000 {
                // log-uniform 100 ns ... 10 s
                let e = Double.random(in: 2...10, using: &rng)
                let v = UInt64(pow10(e))
                values.append(v)
                h.record(v)
            }
            values.sort()
            for q in [0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0] {
                let want = Double(exact(values, q))
                let got = Double(h.value(atQuantile: q))
                #expect(abs(got - want) / want <= 0.01, "q \(q): got \(got) want \(want)")
            }
            #expect(h.max == values.last! && h.min == values.first!)
        }
    }

    @Test func mergeEqualsRecordingAll() {
        var a = LatencyHistogram(), b = LatencyHistogram(), all = LatencyHistogram()
        for v in stride(from: UInt64(1), to: 5_000_000, by: 997) {
            if v % 3 == 0 { a.record(v) } else { b.record(v) }
            all.record(v)
        }
        a.merge(b)
        #expect(a.count == all.count && a.sum == all.sum && a.min == all.min && a.max == all.max)
        for q in [0.1, 0.5, 0.99, 1.0] { #expect(a.value(atQuantile: q) == all.value(atQuantile: q)) }
    }

    func pow10(_ e: Double) -> Double { pow(10, e) }
}
