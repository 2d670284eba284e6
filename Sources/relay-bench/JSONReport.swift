import Glibc

/// `--json FILE`: {"environment": {...}, "results": [{"scenario", "engine", "params", "valid", metrics...}]}.
struct JSONReport {
    var environment: BenchEnvironment
    var results: [BenchResult]
    var unavailable: [String: String]

    func render() -> String {
        var env: [String] = [
            "\"kernel\": \(Self.quote(environment.kernel))",
            "\"cpu_model\": \(Self.quote(environment.cpuModel))",
            "\"cores\": \(environment.cores)",
            "\"relay_cpu\": \(environment.relayCPU.map(String.init) ?? "null")",
            "\"load_cpu\": \(environment.loadCPU.map(String.init) ?? "null")",
            "\"liburing_version\": \(environment.liburingVersion.map(Self.quote) ?? "null")",
            "\"io_uring\": \(Self.quote(environment.uringFeatures))",
        ]
        if !unavailable.isEmpty {
            let items = unavailable.sorted { $0.key < $1.key }.map { "\(Self.quote($0.key)): \(Self.quote($0.value))" }
            env.append("\"engines_unavailable\": {\(items.joined(separator: ", "))}")
        }
        let runs = results.map { r -> String in
            var fields = [
                "\"scenario\": \(Self.quote(r.scenario))",
                "\"workload\": \(Self.quote(r.workload))",
                "\"engine\": \(Self.quote(r.engine))",
                "\"round\": \(r.round)",
                "\"params\": {" + r.params.map { "\(Self.quote($0.0)): \(Self.number($0.1))" }.joined(separator: ", ") + "}",
                "\"valid\": \(r.valid)",
            ]
            if !r.valid {
                fields.append("\"problems\": [" + r.problems.map(Self.quote).joined(separator: ", ") + "]")
            } else {
                fields += r.metrics.map { "\(Self.quote($0.key)): \(Self.number(String($0.value)))" }
            }
            if !r.sweep.isEmpty {
                let steps = r.sweep.map { p in
                    "{\"offered_per_s\": \(p.offeredRate), \"measured_per_s\": \(Self.number(NumberText.fixed(p.measuredRate, 1))), \"held\": \(p.held)"
                        + (p.problem.map { ", \"problem\": \(Self.quote($0))" } ?? "") + "}"
                }
                fields.append("\"steps\": [" + steps.joined(separator: ", ") + "]")
            }
            return "    {" + fields.joined(separator: ", ") + "}"
        }
        return "{\n  \"environment\": {" + env.joined(separator: ", ") + "},\n  \"results\": [\n"
            + runs.joined(separator: ",\n") + "\n  ]\n}\n"
    }

    func write(to path: String) -> Bool { TextFile.write(render(), to: path) }

    /// A JSON number if the text is one (finite), else a JSON string.
    static func number(_ text: String) -> String {
        if let d = Double(text), d.isFinite, !text.contains("inf"), !text.contains("nan") { return text }
        return quote(text)
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
