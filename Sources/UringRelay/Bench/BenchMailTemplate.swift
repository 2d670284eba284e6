/// The message relay-bench's SMTP load generator sends: exactly `size` octets as written
/// (headers and body, before dot-stuffing and before the relay's Received header). A few
/// headers, the X-Bench-Id header, then 78-octet lines (76 printable + CRLF) of pseudo-random
/// text in which some lines begin with "." and two are just "." and "..", so every message
/// exercises dot-stuffing (a relay that forgot to keep it would end the message early or change
/// the digest). All messages of one template share the digest the sink must compute.
public struct BenchMailTemplate: Sendable {
    public static let minimumSize = 256
    static let lineOctets = 78
    public static let sender = "bench@client.bench"
    public static let recipient = "sink@sink.bench"

    /// Octets of the message before dot-stuffing.
    public let size: Int
    /// Dot-stuffed message ending with the end-of-data line ".\r\n", carrying the id 00000-000000-0000000000.
    public let wire: [UInt8]
    /// Where the X-Bench-Id value (BenchMailID.valueWidth octets) starts in `wire`.
    public let idOffset: Int
    /// `wire[0..<headOctets]` runs through the X-Bench-Id line: the part a sender patches per
    /// message; the rest is the same for every message.
    public let headOctets: Int
    /// What BenchMailScanner must report for every message of this template (with no relay
    /// header in front): digest and octets.
    public let expectedDigest: UInt64
    public let expectedOctets: Int

    public init(size: Int) {
        precondition(size >= Self.minimumSize, "message size below \(Self.minimumSize) octets")
        self.size = size
        var head = Array("From: relay-bench <\(Self.sender)>\r\nTo: <\(Self.recipient)>\r\nSubject: relay-bench message of \(size) octets\r\n\(BenchMailID.headerName): ".utf8)
        let idOffset = head.count
        head += BenchMailID(run: 0, session: 0, sequence: 0).headerValue + [13, 10]
        let headOctets = head.count
        var message = head + Array("Message-Class: benchmark\r\n\r\n".utf8)

        var wire = message
        var remaining = size - message.count
        var rng: UInt64 = 0x2545_F491_4F6C_DD1D ^ UInt64(size)
        // Printable, no CR/LF; "." is a line's first octet only where a line is made to start with it.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .".utf8)
        var lineIndex = 0
        while remaining > 0 {
            var line: [UInt8]
            let special: [UInt8]? = lineIndex == 0 ? [46] : lineIndex == 1 ? [46, 46] : nil
            if let special, special.count + 2 <= remaining, remaining - special.count - 2 != 1 {
                line = special
            } else {
                var length = min(Self.lineOctets, remaining)
                if remaining - length == 1 { length -= 1 }  // never leave a single octet: a line needs CRLF
                line = []
                line.reserveCapacity(length)
                for k in 0..<(length - 2) {
                    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17  // xorshift64
                    var c = alphabet[Int(rng >> 58)]  // 64 choices, the top 6 bits
                    if k == 0 && c == 46 { c = 65 }
                    line.append(c)
                }
                if lineIndex % 8 == 5 && !line.isEmpty { line[0] = 46 }
            }
            line += [13, 10]
            message += line
            if line.first == 46 { wire.append(46) }  // dot-stuffing (RFC 5321 4.5.2)
            wire += line
            remaining -= line.count
            lineIndex += 1
        }
        wire += [46, 13, 10]
        precondition(message.count == size)

        self.wire = wire
        self.idOffset = idOffset
        self.headOctets = headOctets
        var scanner = BenchMailScanner()
        let end = wire.withUnsafeBytes { scanner.scan($0) }
        precondition(end == wire.count, "template's end-of-data line not found where it was put")
        let summary = scanner.finish()
        expectedDigest = summary.digest
        expectedOctets = summary.octets
    }

    /// `MAIL FROM` with the SIZE parameter (RFC 1870), `RCPT TO` and `DATA`, each with CRLF.
    public var envelopeCommands: (mail: [UInt8], rcpt: [UInt8], data: [UInt8]) {
        (Array("MAIL FROM:<\(Self.sender)> SIZE=\(size)\r\n".utf8),
         Array("RCPT TO:<\(Self.recipient)>\r\n".utf8),
         Array("DATA\r\n".utf8))
    }
}
