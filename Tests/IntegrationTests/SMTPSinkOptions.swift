/// How an `SMTPSinkPeer` (Postfix's smtp-sink) behaves; each field names its flag.
/// Command names for the fault lists are smtp-sink's: CONNECT, HELO, EHLO, MAIL, RCPT,
/// DATA, "." (end of data), RSET, NOOP, VRFY, QUIT.
struct SMTPSinkOptions {
    /// Listen address: "127.0.0.1" or "::1". The port is picked by the kernel.
    var host = "127.0.0.1"
    /// -h: name in the greeting and the EHLO reply.
    var hostname = "sink.test"
    /// -D/-S: keep every message for `messages()`. Costs a file write per message.
    var capture = true

    // Advertisement
    /// false: -p, no PIPELINING. (-f and -r turn it off too.)
    var pipelining = true
    /// false: -8, no 8BITMIME.
    var eightBitMIME = true
    /// false: -e, no ESMTP (the greeting lacks "ESMTP"; EHLO still works).
    var esmtp = true
    /// false: -E, no ENHANCEDSTATUSCODES.
    var enhancedStatusCodes = true
    /// false: -a, no "AUTH PLAIN LOGIN" (smtp-sink accepts any AUTH when it advertises it).
    var auth = true

    // Faults
    /// -f: these commands get a hard error (`hardReply`, default "500 5.3.0 Error: command failed").
    var hardReject: [String] = []
    /// -r: these commands get a soft error (`softReply`, default "450 4.3.0 Error: command failed").
    var softReject: [String] = []
    /// -B: the hard error reply (must start with 5, e.g. "550 5.1.1 No such user").
    var hardReply: String? = nil
    /// -b: the soft error reply (must start with 4, e.g. "451 4.3.0 Try later").
    var softReply: String? = nil
    /// -q: close the connection without a reply after one of these commands.
    var disconnectOn: [String] = []
    /// -Q: reply "421 4.0.0 Server closing connection" and close after one of these.
    var closeWith421On: [String] = []
    /// -W: wait this many whole seconds before replying to the command.
    var replyDelays: [(command: String, seconds: Int)] = []
    /// -A: after DATA's 354, wait this many seconds, reply 550 and close (reads no body).
    var abortAfterDataDelay: Int? = nil

    /// Further smtp-sink flags, passed before the address.
    var extraArguments: [String] = []

    /// Flags for the options above (capture and user flags are added by the peer).
    var arguments: [String] {
        var a = ["-c", "-h", hostname]
        if !pipelining { a.append("-p") }
        if !eightBitMIME { a.append("-8") }
        if !esmtp { a.append("-e") }
        if !enhancedStatusCodes { a.append("-E") }
        if !auth { a.append("-a") }
        if !hardReject.isEmpty { a += ["-f", hardReject.joined(separator: ",")] }
        if !softReject.isEmpty { a += ["-r", softReject.joined(separator: ",")] }
        if let hardReply { a += ["-B", hardReply] }
        if let softReply { a += ["-b", softReply] }
        if !disconnectOn.isEmpty { a += ["-q", disconnectOn.joined(separator: ",")] }
        if !closeWith421On.isEmpty { a += ["-Q", closeWith421On.joined(separator: ",")] }
        for d in replyDelays { a += ["-W", "\(d.command):\(d.seconds)"] }
        if let abortAfterDataDelay { a += ["-A", String(abortAfterDataDelay)] }
        return a + extraArguments
    }
}
