import UringRelay

/// The smtp scenario's own flags.
struct SMTPBenchOptions {
    var relayMode = SMTPRelayMode.smtp
    var sessions: [Int] = []
    var messageSizes: [Int] = []
    /// Fixed open-loop rate; nil means a fraction of the measured saturation.
    var rate: Int?

    static let specs = [
        FlagSpec("relay-mode", value: "MODE", help: "smtp: uring-relay smtp; tcp: uring-relay tcp carrying SMTP unchanged; queue: uring-relay smtp --mode queue (sessions 1, 10, 100 unless --sessions)", default: "smtp"),
        FlagSpec("sessions", value: "N", help: "smtp: concurrent SMTP client sessions", repeatable: true, default: "the matrix above"),
        FlagSpec("message-size", value: "BYTES", help: "smtp: size of each message as the client writes it, e.g. 1K or 128K", repeatable: true, default: "the matrix above"),
        FlagSpec("rate", value: "N", help: "smtp: open-loop messages/s", default: "half the lower engine's median saturation"),
    ]

    static func parse(_ f: ParsedFlags) throws(UsageError) -> SMTPBenchOptions {
        var o = SMTPBenchOptions()
        let mode = try f.choice("relay-mode", allowed: SMTPRelayMode.allCases.map(\.rawValue), default: "smtp")
        o.relayMode = SMTPRelayMode(rawValue: mode)!
        for text in try f.strings("sessions") {
            o.sessions.append(try ParsedFlags(values: ["sessions": [text]]).int("sessions", default: 0, range: 1...10_000))
        }
        for text in try f.strings("message-size") {
            // One value at a time through the shared byte-size syntax.
            let one = ParsedFlags(values: ["message-size": [text]])
            o.messageSizes.append(try one.bytes("message-size", default: 0, range: BenchMailTemplate.minimumSize...(32 << 20)))
        }
        if f.values["rate"] != nil {
            o.rate = try f.int("rate", default: 0, range: 1...10_000_000)
        }
        return o
    }
}
