/// What the relay asks of its upstream connection, one SMTP command each. The body itself is
/// not a request: once `.data` got its 354 the glue writes body bytes straight to the socket.
public enum SMTPUpstreamRequest: Equatable, Sendable {
    case mail(reversePath: String, parameters: String, smtputf8: Bool)
    case rcpt(forwardPath: String)
    case data
    /// `.\r\n` after the body; answered by the upstream's final reply.
    case endOfData
    /// RSET: abandon the open transaction. Its reply is checked, not reported.
    case reset
    /// QUIT before closing. Not reported.
    case quit
}
