import Glibc

/// CPU time and peak memory of another process and its descendants, from /proc. uring-relay is
/// one process, but the relays it is compared with are not: nginx works in a child of its
/// master, socat forks a child per connection, Postfix runs a process per role. Counting the
/// whole tree under the given pid makes all of them comparable.
struct ProcessUsage {
    /// utime + stime of the process (all threads), plus what its children that have been waited
    /// for used (cutime + cstime), plus the same for every live descendant; seconds, clock-tick
    /// resolution.
    static func cpuSeconds(pid: pid_t) -> Double? {
        guard let own = ticks(pid) else { return nil }
        var total = own.selfTicks + own.childTicks
        for child in descendants(of: pid) {
            if let t = ticks(child) { total += t.selfTicks + t.childTicks }
        }
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        return total / (hz > 0 ? hz : 100)
    }

    /// Sum of VmHWM (peak resident set) over the process and its live descendants, in bytes.
    static func peakRSSBytes(pid: pid_t) -> Int? {
        guard let own = peakRSS(pid) else { return nil }
        return descendants(of: pid).reduce(own) { $0 + (peakRSS($1) ?? 0) }
    }

    /// Children of every thread, recursively (from /proc/PID/task/TID/children).
    static func descendants(of pid: pid_t) -> [pid_t] {
        var out: [pid_t] = []
        var queue = [pid]
        while let p = queue.popLast(), out.count < 10_000 {
            guard let tasks = opendir("/proc/\(p)/task") else { continue }
            while let entry = readdir(tasks) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                guard let tid = Int32(name), let text = ProcFile.read("/proc/\(p)/task/\(tid)/children") else { continue }
                for field in text.split(separator: " ") { if let c = Int32(field) { out.append(c); queue.append(c) } }
            }
            closedir(tasks)
        }
        return out
    }

    /// Fields 14–17 of /proc/PID/stat: utime + stime, cutime + cstime (clock ticks).
    private static func ticks(_ pid: pid_t) -> (selfTicks: Double, childTicks: Double)? {
        guard let text = ProcFile.read("/proc/\(pid)/stat"),
              let close = text.lastIndex(of: ")") else { return nil }
        // After "pid (comm)" come fields 3...; utime, stime, cutime, cstime are fields 14–17.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 14, let u = Double(fields[11]), let s = Double(fields[12]),
              let cu = Double(fields[13]), let cs = Double(fields[14]) else { return nil }
        return (u + s, cu + cs)
    }

    private static func peakRSS(_ pid: pid_t) -> Int? {
        guard let text = ProcFile.read("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
        }
        return nil
    }
}
