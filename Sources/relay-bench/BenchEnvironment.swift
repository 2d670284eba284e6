import Glibc

/// What the numbers were measured on: kernel, CPU model, cores, and where each side ran.
struct BenchEnvironment {
    var kernel: String
    var cpuModel: String
    var cores: Int
    /// CPU the relay child is confined to, nil when not pinned (fewer than 2 cores).
    var relayCPU: Int?
    /// CPU relay-bench's load generators and peers run on, nil when not pinned.
    var loadCPU: Int?

    static func detect() -> BenchEnvironment {
        var u = utsname()
        uname(&u)
        let kernel = withUnsafeBytes(of: u.release) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        var model = "unknown"
        if let info = ProcFile.read("/proc/cpuinfo") {
            for line in info.split(separator: "\n") where line.hasPrefix("model name") {
                if let colon = line.firstIndex(of: ":") {
                    model = String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
                }
                break
            }
        }
        let cores = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let pinned = cores >= 2
        return BenchEnvironment(kernel: kernel, cpuModel: model, cores: cores,
                                relayCPU: pinned ? 0 : nil, loadCPU: pinned ? 1 : nil)
    }

    var pinningDescription: String {
        if let relayCPU, let loadCPU {
            return "relay pinned to CPU \(relayCPU); relay-bench load generators and peers pinned to CPU \(loadCPU)"
        }
        return "not pinned (\(cores) core): relay and load share the CPU"
    }
}
