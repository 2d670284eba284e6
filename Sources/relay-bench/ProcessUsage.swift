import Glibc

/// CPU time and peak memory of another process, from /proc/PID/stat and /proc/PID/status.
struct ProcessUsage {
    /// utime + stime of all the process's threads, in seconds (clock-tick resolution).
    static func cpuSeconds(pid: pid_t) -> Double? {
        guard let text = ProcFile.read("/proc/\(pid)/stat"),
              let close = text.lastIndex(of: ")") else { return nil }
        // After "pid (comm)" come fields 3... ; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let u = Double(fields[11]), let s = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (u + s) / (ticks > 0 ? ticks : 100)
    }

    /// VmHWM (peak resident set) in bytes.
    static func peakRSSBytes(pid: pid_t) -> Int? {
        guard let text = ProcFile.read("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
        }
        return nil
    }
}
