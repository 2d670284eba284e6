import Foundation

/// A child process with captured stderr and stdout, always reaped.
final class ChildProcess {
    let process = Process()
    private let stderrPipe = Pipe()
    private let stdoutPipe = Pipe()

    init(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardError = stderrPipe
        process.standardOutput = stdoutPipe
        try process.run()
    }

    /// Runs to completion and returns (exit code, stdout, stderr).
    static func run(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let child = try ChildProcess(path, arguments, environment: environment)
        let out = child.stdoutPipe.fileHandleForReading.readDataToEndOfFile()
        let err = child.stderrPipe.fileHandleForReading.readDataToEndOfFile()
        child.process.waitUntilExit()
        return (child.process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    /// Reads stderr until a line containing `marker` arrives (or EOF); returns what was read.
    func readStderr(until marker: String) -> String {
        var text = ""
        let h = stderrPipe.fileHandleForReading
        while !text.contains(marker) {
            let d = h.availableData
            if d.isEmpty { break }
            text += String(decoding: d, as: UTF8.self)
        }
        return text
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for exit and returns (status, rest of stderr).
    func finish() -> (status: Int32, stderr: String) {
        let err = stderrPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: err, as: UTF8.self))
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
