/// One message captured by an `SMTPSinkPeer`, parsed from smtp-sink's dump format: its
/// X-Client-Addr / X-Client-Proto / X-Helo-Args / X-Mail-Args / X-Rcpt-Args records and a
/// three-line Received header, then the message.
///
/// smtp-sink drops every CR and dot-unstuffs while dumping, so `content` has LF line ends;
/// `contentCRLF` turns them back, which is exact for a message without bare CR or LF.
struct SMTPSinkMessage {
    var clientAddress = ""
    /// SMTP, ESMTP or LMTP.
    var clientProtocol = ""
    var helo: String?
    /// Everything after "MAIL FROM:", e.g. "<a@b.test> BODY=8BITMIME".
    var mailArguments = ""
    /// Everything after "RCPT TO:", one per RCPT smtp-sink accepted.
    var recipientArguments: [String] = []
    var content: [UInt8] = []

    var sender: String { Self.address(in: mailArguments) }
    var recipients: [String] { recipientArguments.map(Self.address) }

    var contentCRLF: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(content.count + content.count / 32)
        for b in content {
            if b == 0x0A { out.append(0x0D) }
            out.append(b)
        }
        return out
    }

    /// Parses one dump (without the -S start string); nil if it is not one.
    init?(dump: ArraySlice<UInt8>) {
        var rest = dump[...]
        func nextLine() -> String? {
            guard let nl = rest.firstIndex(of: 0x0A) else { return nil }
            defer { rest = rest[(nl + 1)...] }
            return String(decoding: rest[..<nl], as: UTF8.self)
        }
        var sawReceived = false
        while let line = nextLine() {
            if line.hasPrefix("Received: ") {
                // "Received: from ...", "\tby HOST (smtp-sink) ...", "\tDATE": then the message.
                _ = nextLine()
                _ = nextLine()
                sawReceived = true
                break
            }
            let (key, value) = Self.record(line)
            switch key {
            case "X-Client-Addr": clientAddress = value
            case "X-Client-Proto": clientProtocol = value
            case "X-Helo-Args": helo = value
            case "X-Mail-Args": mailArguments = value
            case "X-Rcpt-Args": recipientArguments.append(value)
            default: return nil
            }
        }
        guard sawReceived else { return nil }
        // smtp-sink writes the LF of the final ".\r\n" too: drop it.
        content = Array(rest.last == 0x0A ? rest.dropLast() : rest)
    }

    private static func record(_ line: String) -> (String, String) {
        guard let colon = line.firstIndex(of: ":") else { return ("", line) }
        return (String(line[..<colon]), String(line[line.index(after: colon)...].drop(while: { $0 == " " })))
    }

    private static func address(in arguments: String) -> String {
        guard let open = arguments.firstIndex(of: "<"), let close = arguments[open...].firstIndex(of: ">") else {
            return String(arguments.prefix(while: { $0 != " " }))
        }
        return String(arguments[arguments.index(after: open)..<close])
    }
}
