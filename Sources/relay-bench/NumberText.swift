/// Fixed-point number formatting without Foundation.
enum NumberText {
    static func fixed(_ x: Double, _ decimals: Int) -> String {
        guard x.isFinite else { return x.isNaN ? "nan" : (x < 0 ? "-inf" : "inf") }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(x) * scale).rounded()
        guard scaled < 9e18 else { return "\(x)" }
        let n = UInt64(scaled)
        let p = UInt64(scale)
        let sign = x < 0 && n != 0 ? "-" : ""
        let whole = n / p
        if decimals == 0 { return sign + String(whole) }
        var frac = String(n % p)
        while frac.count < decimals { frac = "0" + frac }
        return sign + String(whole) + "." + frac
    }
}
