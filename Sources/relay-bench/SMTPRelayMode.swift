import Glibc

/// Which uring-relay mode carries the smtp scenario's sessions. `smtp` is the real thing; `tcp`
/// carries SMTP transparently (the sink greets the clients itself and no Received field is
/// added), as a baseline and for running the scenario where the smtp mode is not available;
/// `queue` is `smtp --mode queue`: each 250 waits for the message to be durable in a spool
/// (a fresh one per relay process, in $TMPDIR), and delivery to the sink follows.
enum SMTPRelayMode: String, CaseIterable {
    case smtp
    case tcp
    case queue

    /// The `uring-relay` subcommand.
    var uringMode: String { self == .tcp ? "tcp" : "smtp" }

    /// The hostname the smtp relay puts in its greeting and Received field.
    static let relayHostname = "relay.bench"

    /// `uring-relay MODE` and its flags besides --listen and --engine (RelayProcess adds those):
    /// one worker pinned to the relay CPU, relaying to the sink.
    func arguments(sinkPort: UInt16) -> [String] {
        let common = ["--upstream", "127.0.0.1:\(sinkPort)", "--threads", "1", "--pin"]
        switch self {
        case .smtp: return common + ["--hostname", Self.relayHostname]
        case .tcp: return common
        case .queue:
            return common + ["--hostname", Self.relayHostname, "--mode", "queue", "--spool", Self.freshSpool(),
                             "--retry-initial", "1s", "--retry-max", "1s"]
        }
    }

    /// A new empty directory for one relay's spool; `removeSpools` deletes them all.
    static func freshSpool() -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/relay-bench-spool.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { return "\(base)/relay-bench-spool.\(getpid())" }
        let path = String(cString: made)
        spools.append(path)
        return path
    }

    nonisolated(unsafe) private static var spools: [String] = []

    /// Removes the spools made by `freshSpool` (DIR/{tmp,queue}/* and the files in DIR).
    static func removeSpools() {
        for path in spools {
            for sub in ["tmp", "queue", ""] {
                let dir = sub.isEmpty ? path : path + "/" + sub
                guard let d = opendir(dir) else { continue }
                while let e = readdir(d) {
                    let name = withUnsafePointer(to: e.pointee.d_name) {
                        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                    }
                    if name != "." && name != ".." { unlink(dir + "/" + name) }
                }
                closedir(d)
                if !sub.isEmpty { rmdir(dir) }
            }
            rmdir(path)
        }
        spools = []
    }

    /// Received fields the sink must find in front of every message.
    var receivedFieldsAdded: Int {
        switch self {
        case .smtp, .queue: return 1
        case .tcp: return 0
        }
    }
}
