/// One message `SmtplibClient` sent: every command with the reply it got, the EHLO
/// keywords, and the size and SHA-256 of the body a correct server stores.
struct SmtplibMessageResult: Decodable {
    var message: Int
    /// CONNECT and EHLO appear in the first message of each session, QUIT in the last.
    var steps: [PeerReply]
    /// EHLO keywords, upper-cased ("8BITMIME", "CHUNKING", "PIPELINING", "SIZE", ...).
    var capabilities: [String]
    var size: Int
    var sha256: String
    /// Why the exchange stopped early: a hang-up ("SMTPServerDisconnected: ..."), a reset,
    /// a refused connection, a timeout, smtplib refusing an option. nil otherwise.
    var error: String?
    var elapsed: Double

    func codes(for command: String) -> [Int] { steps.filter { $0.command == command }.compactMap(\.code) }
    func code(for command: String) -> Int? { codes(for: command).last }

    /// The reply ending the message: DOT for DATA, the last BDAT for chunking.
    var finalCode: Int? { code(for: "DOT") ?? steps.last(where: { $0.command == "BDAT" })?.code }
}
