/// What an `SMTPServerSession` asks its owner to do. The session is pure: the relay glue
/// carries these out (client socket, upstream connection) and feeds results back.
public enum SMTPSessionAction: Equatable, Sendable {
    /// Send this reply to the client.
    case reply(SMTPReply)
    /// Upstream: start a transaction (connecting and greeting first if needed) with MAIL FROM.
    /// Answer with `upstreamReplied` or `upstreamFailed`.
    case upstreamMail(reversePath: String, parameters: String, smtputf8: Bool)
    /// Upstream: RCPT TO. Answer with `upstreamReplied` or `upstreamFailed`.
    case upstreamRcpt(forwardPath: String)
    /// Upstream: DATA. Answer with the upstream's reply (354 to go on).
    case upstreamData
    /// Upstream: these body bytes, in order (the Received header first, then the body as the
    /// client sent it: dot-stuffed DATA text). No answer.
    case upstreamBody([UInt8])
    /// Upstream: end the body (`.\r\n`). Answer with the upstream's final reply.
    case upstreamEndOfData
    /// Upstream: the body in flight must not be delivered — drop the upstream connection
    /// without ending the data. No answer.
    case upstreamAbort
    /// Upstream: abandon the open transaction with RSET (its reply is the glue's business).
    case upstreamReset
    /// Close the client connection once the replies before this are sent.
    case close
}
