/// One parsed SMTP command (RFC 5321 4.1, plus BDAT from RFC 3030). See `SMTPCommandParser.parse`.
public enum SMTPCommand: Equatable, Sendable {
    /// EHLO with the client's domain or address literal, as written.
    case ehlo(String)
    /// HELO with the client's domain or address literal, as written.
    case helo(String)
    /// MAIL FROM; `nil` is the null reverse-path `<>` (bounces).
    case mail(reversePath: SMTPPath?, parameters: MailParameters)
    /// RCPT TO; no parameters are supported yet, so `parameters` is always empty.
    case rcpt(forwardPath: SMTPPath, parameters: [String: String?])
    case data
    /// BDAT chunk-size [LAST] (RFC 3030).
    case bdat(size: Int, last: Bool)
    case rset
    /// NOOP (its optional argument is ignored).
    case noop
    case quit
    /// HELP (its optional argument is ignored).
    case help
    /// VRFY with its argument as written.
    case vrfy(String)
}
