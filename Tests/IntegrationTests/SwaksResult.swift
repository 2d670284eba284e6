/// What one swaks run did: its exit status (swaks documents them: 0 delivered, 2 could not
/// connect, 6 connection closed unexpectedly, 21 bad greeting, 22 EHLO/HELO, 23 MAIL,
/// 24 no RCPT accepted, 25 DATA, 26 end of data, ...), the transcript it printed, and the
/// server's replies paired with the commands they answered.
struct SwaksResult {
    var status: Int32
    var timedOut: Bool
    var transcript: String
    var stderr: String
    var replies: [PeerReply]

    /// Every reply code to `command` (CONNECT, EHLO, MAIL, RCPT, DATA, DOT, QUIT, ...).
    func codes(for command: String) -> [Int] { replies.filter { $0.command == command }.compactMap(\.code) }

    /// The last reply code to `command`.
    func code(for command: String) -> Int? { codes(for: command).last }

    /// The EHLO keywords advertised (upper-cased, without parameters: "SIZE", "CHUNKING").
    var ehloKeywords: [String] {
        guard let ehlo = replies.last(where: { $0.command == "EHLO" }) else { return [] }
        return ehlo.text.split(separator: "\n").dropFirst().map { String($0.prefix(while: { $0 != " " })).uppercased() }
    }

    init(status: Int32, timedOut: Bool, transcript: String, stderr: String) {
        self.status = status
        self.timedOut = timedOut
        self.transcript = transcript
        self.stderr = stderr
        replies = Self.pair(transcript)
    }

    /// Pairs replies with commands from swaks' transcript: " -> " lines are what it sent,
    /// "<-  " and "<** " lines what it received (the latter an unexpected reply). Replies
    /// come back in command order even when swaks pipelines, so a queue of the commands
    /// sent and not yet answered is enough. Lines sent after a 354 are the message itself,
    /// up to the lone ".".
    private static func pair(_ transcript: String) -> [PeerReply] {
        var pending: [(verb: String, argument: String)] = []
        var inData = false
        var replies: [PeerReply] = []
        var lines: [String] = []
        // isNewline, not "\n": "\r\n" is one Character, and swaks echoes the message's CRLFs.
        for line in transcript.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            if line.hasPrefix(" -> ") {
                let sent = line.dropFirst(4)
                if inData {
                    if sent == "." { inData = false; pending.append(("DOT", "")) }
                    continue
                }
                let verb = sent.prefix(while: { $0 != " " && $0 != ":" }).uppercased()
                pending.append((verb, String(sent.dropFirst(verb.count).drop(while: { $0 == " " }))))
            } else if line.hasPrefix("<-  ") || line.hasPrefix("<** ") {
                let reply = line.dropFirst(4)
                lines.append(String(reply.dropFirst(4)))
                guard reply.count < 4 || reply[reply.index(reply.startIndex, offsetBy: 3)] != "-" else { continue }
                let code = Int(reply.prefix(3))
                let answered = pending.isEmpty ? (verb: replies.isEmpty ? "CONNECT" : "?", argument: "") : pending.removeFirst()
                replies.append(PeerReply(command: answered.verb, argument: answered.argument, code: code,
                                         text: lines.joined(separator: "\n")))
                lines = []
                if answered.verb == "DATA" && code == 354 { inData = true }
            }
        }
        return replies
    }
}
