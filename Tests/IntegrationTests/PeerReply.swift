/// One SMTP reply a client peer (swaks, smtplib) received, with the command it answered:
/// CONNECT for the greeting, DOT for the end of DATA, otherwise the verb (EHLO, MAIL, RCPT,
/// DATA, BDAT, RSET, QUIT). `code` is nil when no reply came (the server hung up).
struct PeerReply: Decodable, Equatable, CustomStringConvertible {
    var command: String
    var argument: String
    var code: Int?
    /// The reply text without the code; lines of a multi-line reply joined with "\n".
    var text: String

    var description: String { "\(command) \(argument) → \(code.map(String.init) ?? "no reply") \(text)" }
}
