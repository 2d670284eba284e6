/// What one delivery attempt did for one recipient.
public enum SpoolRecipientOutcome: Equatable, Sendable {
    case delivered
    /// 4xx, timeout, refused or lost connection: try again later. The text is for the state
    /// file, `queue list` and, at expiry, the DSN.
    case transient(String)
    /// 5xx: bounce now.
    case permanent(String)

    /// The outcome a reply gives: 2xx/3xx delivered, 4xx transient, anything else permanent.
    static func from(_ reply: SMTPReply) -> SpoolRecipientOutcome {
        let text = reply.description.split(separator: "\r\n").joined(separator: " ")
        if reply.code >= 200 && reply.code < 400 { return .delivered }
        return reply.isTransient ? .transient(text) : .permanent(text)
    }
}
