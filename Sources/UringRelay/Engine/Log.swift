import Glibc

/// Line-oriented log to stderr. Each line goes out in one write(2), so lines from
/// different workers never interleave mid-line.
public enum Log {
    public static func info(_ message: String) { emit("info", message) }
    public static func warning(_ message: String) { emit("warning", message) }
    public static func error(_ message: String) { emit("error", message) }

    private static func emit(_ level: String, _ message: String) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var tmv = tm()
        var secs = ts.tv_sec
        gmtime_r(&secs, &tmv)
        let stamp = String(format4: Int(tmv.tm_year) + 1900) + "-" + two(Int(tmv.tm_mon) + 1) + "-" + two(Int(tmv.tm_mday))
            + "T" + two(Int(tmv.tm_hour)) + ":" + two(Int(tmv.tm_min)) + ":" + two(Int(tmv.tm_sec))
            + "." + three(Int(ts.tv_nsec / 1_000_000)) + "Z"
        var line = "\(stamp) uring-relay \(level): \(message)\n"
        line.withUTF8 { buf in
            _ = Glibc.write(2, buf.baseAddress, buf.count)
        }
    }

    private static func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    private static func three(_ v: Int) -> String { v < 10 ? "00\(v)" : v < 100 ? "0\(v)" : "\(v)" }
}

private extension String {
    init(format4 v: Int) { self = String(v) }
}
