import Foundation
import Synchronization
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

    // MARK: Peer programs

    /// The peer scripts (smtp_upstream.py, smtplib_client.py) live in Tests/peers, outside
    /// every SwiftPM target so SwiftPM does not ask what to do with them.
    static var peerScriptsDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("peers").path
    }

    static func peerScript(_ name: String) -> String { "\(peerScriptsDirectory)/\(name)" }

    /// `path` if it is an executable file. If not, the caller skips its test (returns
    /// early); under URING_RELAY_REQUIRE_PEERS=1 this also records a failure.
    static func peer(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        missingPeer(path, sourceLocation: sourceLocation)
        return nil
    }

    /// Debian's interpreter, which sees the python3-* packages (python3-aiosmtpd); a
    /// python3 found first on PATH (pyenv, a venv) may not.
    static let systemPython = "/usr/bin/python3"

    /// `systemPython` if it can import `module`; otherwise nil, as `peer` does.
    static func python(with module: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        if pythonPasses("import \(module)") { return systemPython }
        missingPeer("\(systemPython) with the module \(module)", sourceLocation: sourceLocation)
        return nil
    }

    /// `systemPython` if python3-gi finds GStreamer with every one of `elements` (x264enc,
    /// avdec_h264, ...: each comes from its own plugin package) and the GObject
    /// introspection namespaces `typelibs` (GstRtspServer, ...); otherwise nil, as `peer` does.
    static func gstreamer(elements: [String], typelibs: [String] = [],
                          sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        let check = """
            import sys, importlib, gi
            for t in ["Gst"] + \(typelibs):
                gi.require_version(t, "1.0")
                importlib.import_module("gi.repository." + t)
            from gi.repository import Gst
            Gst.init(None)
            sys.exit(any(Gst.ElementFactory.find(e) is None for e in \(elements)))
            """
        if pythonPasses(check) { return systemPython }
        missingPeer("GStreamer (python3-gi) with \((typelibs + elements).joined(separator: ", "))",
                    sourceLocation: sourceLocation)
        return nil
    }

    /// Whether `systemPython -c code` exits 0; asked once per code, the answer cached.
    private static func pythonPasses(_ code: String) -> Bool {
        pythonChecks.withLock { known -> Bool in
            if let answer = known[code] { return answer }
            let answer = FileManager.default.isExecutableFile(atPath: systemPython)
                && ((try? PeerProcess.run(systemPython, ["-c", code], timeout: 20))?.status == 0)
            known[code] = answer
            return answer
        }
    }

    private static let pythonChecks = Mutex<[String: Bool]>([:])

    private static func missingPeer(_ what: String, sourceLocation: SourceLocation) {
        if requirePeers {
            Issue.record("peer \(what) is missing but URING_RELAY_REQUIRE_PEERS=1 (scripts/install-deps.sh --tests installs it)",
                         sourceLocation: sourceLocation)
        }
    }
}
