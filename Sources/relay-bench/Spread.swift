/// Median and range of a metric over rounds.
struct Spread {
    var median: Double
    var min: Double
    var max: Double
    var count: Int

    /// nil for no values. The median of an even count is the mean of the middle two.
    init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let s = values.sorted()
        let n = s.count
        median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
        min = s[0]
        max = s[n - 1]
        count = n
    }
}
