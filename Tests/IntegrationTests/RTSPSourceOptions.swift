/// How an `RTSPSourcePeer` (Tests/peers/rtsp_source.py) serves: its mounts, the transports it
/// offers and the credentials it demands. The defaults are one open mount, /cam, over TCP or UDP.
struct RTSPSourceOptions: Sendable {
    enum Auth: String, Sendable {
        case basic
        case digest
    }

    enum Protocols: String, Sendable {
        case tcp
        case udp
        case both
    }

    /// Played mounts, each its own shared test pattern (a different one per mount, so a relay
    /// that crossed two mounts would show).
    var paths = ["/cam"]
    /// A mount in RECORD mode that decodes what an ANNOUNCE/RECORD publisher sends.
    var recordPath: String? = nil
    /// A RECORD-FRAMES line every this many decoded frames on the record mount.
    var recordReportEvery = 25
    /// Credentials every request must carry (nil: none needed).
    var user: String? = nil
    var password = ""
    var auth = Auth.basic
    /// The lower transports offered to clients.
    var protocols = Protocols.both

    /// Command-line flags for rtsp_source.py (the port is passed separately).
    var arguments: [String] {
        var a: [String] = []
        for p in paths { a += ["--path", p] }
        if let recordPath { a += ["--record-path", recordPath, "--report-every", String(recordReportEvery)] }
        if let user { a += ["--user", user, "--password", password, "--auth", auth.rawValue] }
        a += ["--protocols", protocols.rawValue]
        return a
    }
}
