/// smtp-sink's running counters (its -c output, "sess=N quit=N mesg=N"), updated when a
/// session ends, at QUIT, and when a message's final "." arrives.
struct SMTPSinkCounters: Equatable {
    var sessions = 0
    var quits = 0
    /// Messages whose "." arrived — counted even when -f/-r made smtp-sink refuse the ".".
    var messages = 0

    init(sessions: Int = 0, quits: Int = 0, messages: Int = 0) {
        self.sessions = sessions
        self.quits = quits
        self.messages = messages
    }

    /// Parses one counter line; nil if it is not one.
    init?(line: String) {
        var values: [String: Int] = [:]
        for field in line.split(separator: " ") {
            let kv = field.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let v = Int(kv[1]) else { return nil }
            values[String(kv[0])] = v
        }
        guard let s = values["sess"], let q = values["quit"], let m = values["mesg"] else { return nil }
        self.init(sessions: s, quits: q, messages: m)
    }
}
