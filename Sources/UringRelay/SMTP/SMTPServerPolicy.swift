/// The limits and identity an `SMTPServerSession` enforces, fixed per session.
public struct SMTPServerPolicy: Sendable {
    /// Our name in the greeting, EHLO reply and Received header.
    public var hostname: String
    public var maxMessageBytes: Int = 25 << 20
    public var maxRecipients: Int = 100
    public var bareLineEndings: BareLinePolicy = .reject
    /// Whether this client (by address) may relay at all; if not, every RCPT gets 554 5.7.1.
    public var relayAllowed: Bool
    /// Errors (5xx for bad commands) before the session is closed with 421, like Postfix's
    /// smtpd_hard_error_limit: a client that only sends garbage is not kept.
    public var maxErrors: Int = 20
    /// The client's IP address as text, for the Received header.
    public var clientIP: String
    /// Said after "ESMTP" in the greeting; the relay puts a per-process token here so that its
    /// upstream client recognises its own greeting (a relay pointed at itself).
    public var greetingToken: String?

    public init(hostname: String, relayAllowed: Bool, clientIP: String) {
        self.hostname = hostname
        self.relayAllowed = relayAllowed
        self.clientIP = clientIP
    }
}
