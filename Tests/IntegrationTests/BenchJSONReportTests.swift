import Foundation
import Testing
@testable import relay_bench
@testable import UringRelay

/// The `--json` file's shape: what a user's scripts read from it.
@Suite struct BenchJSONReportTests {
    @Test func environmentAndResultsHaveTheDocumentedKeys() throws {
        let environment = BenchEnvironment.detect()
        let valid = BenchResult(scenario: "tcp", workload: "rr", engine: "uring", round: 1,
                                params: [("connections", "64"), ("size_bytes", "128")], table: "t", problems: [],
                                metrics: [Metric(key: "latency_p99_us", label: "p99", value: 12.5, decimals: 1)])
        let invalid = BenchResult(scenario: "tcp", workload: "rr", engine: "epoll", round: 1, params: [], table: "t",
                                  problems: ["3 replies \"lost\""], metrics: [])
        let text = JSONReport(environment: environment, results: [valid, invalid], unavailable: ["x": "why"]).render()
        let root = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let env = try #require(root["environment"] as? [String: Any])
        for key in ["kernel", "cpu_model", "cores", "liburing_version", "io_uring", "relay_cpu", "load_cpu", "engines_unavailable"] {
            #expect(env[key] != nil, "environment lacks \(key)")
        }
        #expect((env["io_uring"] as? String)?.isEmpty == false)
        if let version = env["liburing_version"] as? String { #expect(version.first?.isNumber == true, "\(version)") }
        let results = try #require(root["results"] as? [[String: Any]])
        #expect(results.count == 2)
        #expect(results[0]["scenario"] as? String == "tcp" && results[0]["engine"] as? String == "uring")
        #expect(results[0]["valid"] as? Bool == true)
        #expect((results[0]["params"] as? [String: Any])?["connections"] as? Int == 64)
        #expect(results[0]["latency_p99_us"] as? Double == 12.5)
        #expect(results[1]["valid"] as? Bool == false)
        #expect((results[1]["problems"] as? [String]) == ["3 replies \"lost\""], "problems are kept, quoting intact")
        #expect(results[1]["latency_p99_us"] == nil, "no speed is claimed for an invalid run")
    }
}
