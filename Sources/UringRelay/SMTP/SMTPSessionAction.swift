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
    /// client sent it: dot-stuffed DATA text): `prefix`, then the bytes at `input` of the
    /// buffer given to the `receive` call that returned this action (empty for actions from
    /// other calls). Naming the span instead of copying it lets the glue copy body bytes once,
    /// straight from the receive buffer to the upstream's send queue. No answer.
    case upstreamBody(prefix: [UInt8], input: Range<Int>)
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

extension SMTPSessionAction {
    /// The body bytes a codec result forwards, for an input that started `base` bytes into the
    /// `receive` buffer; nil when there are none.
    static func body(_ r: DataScanResult, at base: Int) -> SMTPSessionAction? {
        guard !r.prefix.isEmpty || !r.forward.isEmpty else { return nil }
        return .upstreamBody(prefix: r.prefix, input: (base + r.forward.lowerBound)..<(base + r.forward.upperBound))
    }
}
