/// The immutable head of a spooled message file (`queue/ID`): who sent it, to whom, when.
/// The body follows the header's empty line, exactly as it goes on the wire after the 354 of
/// DATA (the relay's Received field first; dot-stuffed; ending in CRLF; without the final
/// `.\r\n`), so delivery copies it without looking at it.
///
/// Format, version 1 (one field a line, LF-terminated, UTF-8):
///
///     uring-relay spool 1
///     id 1A2B3C.0.5
///     arrival-ms 1767225600000
///     from <sender@example.org>        (or <>)
///     params BODY=8BITMIME SMTPUTF8    (MAIL parameters as received; may be empty)
///     rcpt <one@example.net>           (one line per recipient, in RCPT order)
///     <empty line>
///     body…
///
/// Paths cannot hold CR or LF (the command parser refuses them), so a line is a field.
public struct SpoolEnvelope: Equatable, Sendable {
    public static let formatLine = "uring-relay spool 1"
    /// Headers larger than this are not a spool file of ours (100,000 recipients of 300 bytes).
    public static let maxHeaderBytes = 32 << 20

    public var id: String
    public var arrivalUnixMs: Int64
    /// "<a@b>" or "<>".
    public var reversePath: String
    public var mailParameters: String
    public var smtputf8: Bool { mailParameters.split(separator: " ").contains { $0.uppercased() == "SMTPUTF8" } }
    /// Forward paths, "<x@y>", in RCPT order.
    public var recipients: [String]

    public init(id: String, arrivalUnixMs: Int64, reversePath: String, mailParameters: String, recipients: [String]) {
        self.id = id
        self.arrivalUnixMs = arrivalUnixMs
        self.reversePath = reversePath
        self.mailParameters = mailParameters
        self.recipients = recipients
    }

    public enum ParseResult: Equatable, Sendable {
        /// The envelope and where the body starts in the file.
        case complete(SpoolEnvelope, bodyOffset: Int)
        /// No empty line yet: read more of the file.
        case needMore
        case invalid(String)
    }

    /// The header, ready to be written before the body.
    public func encodedHeader() -> [UInt8] {
        var text = "\(Self.formatLine)\nid \(id)\narrival-ms \(arrivalUnixMs)\nfrom \(reversePath)\nparams \(mailParameters)\n"
        for r in recipients { text += "rcpt \(r)\n" }
        text += "\n"
        return Array(text.utf8)
    }

    /// Parses the header from the first bytes of a file.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> ParseResult {
        var lineStart = 0
        var fields: [(String, String)] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == 10 {
                let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[lineStart..<i]), as: UTF8.self)
                lineStart = i + 1
                if line.isEmpty { return build(fields, bodyOffset: lineStart) }
                if fields.isEmpty {
                    guard line == formatLine else {
                        return .invalid(line.hasPrefix("uring-relay spool ") ? "unsupported spool format \"\(line)\"" : "not a spool file")
                    }
                    fields.append(("format", ""))
                } else {
                    let key = line.prefix { $0 != " " }
                    let value = line.dropFirst(key.count + 1)
                    fields.append((String(key), String(value)))
                }
            }
            i += 1
        }
        if bytes.count > maxHeaderBytes { return .invalid("header longer than \(maxHeaderBytes) bytes") }
        if bytes.count >= formatLine.utf8.count + 1 && fields.isEmpty { return .invalid("not a spool file") }
        return .needMore
    }

    public static func parse(_ bytes: [UInt8]) -> ParseResult { bytes.withUnsafeBytes { parse($0) } }

    private static func build(_ fields: [(String, String)], bodyOffset: Int) -> ParseResult {
        guard fields.first?.0 == "format" else { return .invalid("not a spool file") }
        var id: String?, arrival: Int64?, from: String?, params = ""
        var recipients: [String] = []
        for (key, value) in fields.dropFirst() {
            switch key {
            case "id": id = value
            case "arrival-ms": arrival = Int64(value)
            case "from": from = value
            case "params": params = value
            case "rcpt": recipients.append(value)
            default: break  // a later minor addition: ignored, as the version line allows
            }
        }
        guard let id, !id.isEmpty else { return .invalid("no id") }
        guard let arrival else { return .invalid("no arrival-ms") }
        guard let from, from.hasPrefix("<"), from.hasSuffix(">") else { return .invalid("no valid from") }
        guard !recipients.isEmpty else { return .invalid("no recipients") }
        return .complete(SpoolEnvelope(id: id, arrivalUnixMs: arrival, reversePath: from, mailParameters: params,
                                       recipients: recipients), bodyOffset: bodyOffset)
    }
}
