import Foundation
import Glibc

/// A fresh directory under $TMPDIR (or /tmp) for one peer's files (record file, dumps,
/// message files), removed with everything in it when this object goes away.
final class TemporaryDirectory {
    let path: String

    init(_ prefix: String = "uring-relay-peer") throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(base)/\(prefix).XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw PeerError.last("mkdtemp \(base)/\(prefix)") }
        path = String(cString: made)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Writes `bytes` to `name` in this directory and returns its path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    /// Lets a peer that dropped root privileges (smtp-sink -u nobody) write here.
    func makeWorldWritable() { chmod(path, 0o777) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
