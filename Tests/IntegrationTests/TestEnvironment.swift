import Foundation
import Testing
@testable import UringRelay

/// Where the built binaries are and what this machine can do, for integration tests.
enum TestEnvironment {
    /// `swift test` runs the test bundle from the build directory that also holds the
    /// executables (IntegrationTests depends on uring-relay so it is always built).
    static var binDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }

    static var relayBinary: String {
        var dir = binDirectory
        // On Linux the bundle is a plain executable in .build/<config>/; be tolerant of a
        // nested layout (.xctest directory) too.
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("uring-relay").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return binDirectory.appendingPathComponent("uring-relay").path
    }

    /// CI sets this so that a test that would be skipped for a missing peer (a program, or
    /// io_uring itself) fails instead.
    static var requirePeers: Bool {
        ProcessInfo.processInfo.environment["URING_RELAY_REQUIRE_PEERS"] == "1"
    }

    static let uringAvailable: Bool = {
        if case .success = URingEngine.probe() { return true }
        return false
    }()

    /// Whether a test of `engine` can run here. io_uring missing is a skip locally and a
    /// failure in CI.
    static func canRun(_ engine: EngineChoice) -> Bool {
        guard engine == .uring, !uringAvailable else { return true }
        if requirePeers {
            Issue.record("io_uring is unavailable on this machine but URING_RELAY_REQUIRE_PEERS=1")
        }
        return false
    }
}
