/// A log-linear (HDR-style) histogram of non-negative integer values, e.g. latencies in ns.
///
/// Values below 256 are counted exactly. Above, every power of two [2^m, 2^(m+1)) is split into
/// 128 equal buckets, so a bucket is at most 1/128 of its lower bound wide; a value is reported
/// as its bucket's midpoint, which is within 1/256 (< 0.4 %) of every value in the bucket.
/// Pure and allocation-free after init; not thread-safe (one owner, merge afterwards).
public struct LatencyHistogram: Sendable {
    /// Sub-buckets per power of two above the exact range: 2^precisionBits.
    public static let precisionBits = 7
    static let subBuckets = 1 << precisionBits              // 128
    static let exactLimit = UInt64(subBuckets * 2)          // values below are exact
    static let bucketCount = (64 - precisionBits + 1) * subBuckets  // index of UInt64.max + 1

    private var counts: [UInt64]
    public private(set) var count: UInt64 = 0
    public private(set) var min: UInt64 = .max
    public private(set) var max: UInt64 = 0
    /// Sum of recorded values (wraps only beyond 584 years of ns).
    public private(set) var sum: UInt64 = 0

    public init() {
        counts = [UInt64](repeating: 0, count: Self.bucketCount)
    }

    /// Bucket index of `value`; monotonic non-decreasing in `value`.
    @inline(__always)
    static func index(of value: UInt64) -> Int {
        if value < exactLimit { return Int(value) }
        let m = 63 - value.leadingZeroBitCount          // >= precisionBits + 1
        let shift = m - precisionBits
        let sub = Int(value >> UInt64(shift))           // in [128, 256)
        return shift * subBuckets + sub
    }

    /// Smallest and largest value that land in bucket `index`.
    static func bounds(of index: Int) -> (low: UInt64, high: UInt64) {
        if index < Int(exactLimit) { return (UInt64(index), UInt64(index)) }
        let shift = index / subBuckets - 1
        let sub = UInt64(index - shift * subBuckets)    // in [128, 256)
        let low = sub << UInt64(shift)
        let width = UInt64(1) << UInt64(shift)
        return (low, low &+ (width - 1))
    }

    @inline(__always)
    public mutating func record(_ value: UInt64) {
        counts[Self.index(of: value)] &+= 1
        count &+= 1
        sum &+= value
        if value < min { min = value }
        if value > max { max = value }
    }

    public mutating func merge(_ other: LatencyHistogram) {
        guard other.count > 0 else { return }
        for i in 0..<counts.count where other.counts[i] != 0 { counts[i] &+= other.counts[i] }
        count &+= other.count
        sum &+= other.sum
        if other.min < min { min = other.min }
        if other.max > max { max = other.max }
    }

    /// The value at quantile `q` (0...1): the value of rank ceil(q·count) (at least 1) in sorted
    /// order, reported as its bucket's midpoint clamped to [min, max]. 0 when empty.
    public func value(atQuantile q: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let clamped = Swift.min(Swift.max(q, 0), 1)
        var rank = UInt64((clamped * Double(count)).rounded(.up))
        if rank < 1 { rank = 1 }
        if rank > count { rank = count }
        var seen: UInt64 = 0
        for i in 0..<counts.count where counts[i] != 0 {
            seen += counts[i]
            if seen >= rank {
                let (low, high) = Self.bounds(of: i)
                let mid = low + (high - low) / 2
                return Swift.min(Swift.max(mid, min), max)
            }
        }
        return max
    }

    /// Mean of recorded values, 0 when empty.
    public var mean: Double { count == 0 ? 0 : Double(sum) / Double(count) }
}
