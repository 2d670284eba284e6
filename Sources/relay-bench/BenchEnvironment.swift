import Glibc
import UringRelay

/// What the numbers were measured on: kernel, CPU model, cores, and where each side ran.
struct BenchEnvironment {
    var kernel: String
    var cpuModel: String
    var cores: Int
    /// CPU the relay child is confined to, nil when not pinned (fewer than 2 cores).
    var relayCPU: Int?
    /// CPU relay-bench's load generators and peers run on, nil when not pinned.
    var loadCPU: Int?
    /// The liburing shared library in use ("2.3"), nil when not found.
    var liburingVersion: String? = nil
    /// What a probe ring reports ("io_uring sq=8 cq=16 features=..."), or why io_uring is unusable.
    var uringFeatures: String = ""

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
        var environment = BenchEnvironment(kernel: kernel, cpuModel: model, cores: cores,
                                           relayCPU: pinned ? 0 : nil, loadCPU: pinned ? 1 : nil)
        environment.liburingVersion = liburingVersion()
        switch URingEngine.probe() {
        case .success(let summary): environment.uringFeatures = summary
        case .failure(let error): environment.uringFeatures = "unavailable: \(error.cause)"
        }
        return environment
    }

    /// liburing has no version call before 2.4; the shared library's file name carries it
    /// (liburing.so.2 → liburing.so.2.3).
    static func liburingVersion() -> String? {
        for dir in ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"] {
            var target = [CChar](repeating: 0, count: 256)
            let n = readlink(dir + "/liburing.so.2", &target, target.count - 1)
            guard n > 0 else { continue }
            let name = String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let prefix = "liburing.so."
            guard name.hasPrefix(prefix) else { continue }
            return String(name.dropFirst(prefix.count))
        }
        return nil
    }

    var pinningDescription: String {
        if let relayCPU, let loadCPU {
            return "relay pinned to CPU \(relayCPU); relay-bench load generators and peers pinned to CPU \(loadCPU)"
        }
        return "not pinned (\(cores) core): relay and load share the CPU"
    }
}
