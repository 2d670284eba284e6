/// What an `SMTPUpstreamClient` tells the glue after input or a request.
public enum SMTPUpstreamEvent: Equatable, Sendable {
    /// Write these bytes to the upstream socket, in order.
    case send([UInt8])
    /// The reply to the oldest reported request (MAIL, RCPT, DATA, end of data), already in
    /// the form the relay's client should see.
    case replied(SMTPReply)
    /// The connection is unusable (greeting refused, 421, protocol error, reply to nothing):
    /// close it. The reason is for the log and the client's transient reply.
    case failed(String)
}
