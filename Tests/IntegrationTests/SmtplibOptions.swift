/// What `SmtplibClient` sends (flags of Tests/peers/smtplib_client.py).
struct SmtplibOptions {
    var from = "sender@client.test"
    var recipients = ["rcpt@upstream.test"]
    /// MAIL parameters, e.g. "SMTPUTF8", "BODY=8BITMIME". smtplib refuses SMTPUTF8 itself
    /// (SMTPNotSupportedError, reported as the message's error) if the server lacks it.
    var mailOptions: [String] = []
    var ehlo = "client.test"
    /// HELO instead of EHLO.
    var useHelo = false
    /// The message (headers and body) sent for every message; nil: a generated one of
    /// `generatedSize` bytes, different per message.
    var body: [UInt8]? = nil
    var generatedSize = 256
    var messages = 1
    /// A new connection for every message (otherwise one session for all).
    var reconnect = false
    /// MAIL, every RCPT and DATA in one write (RFC 2920), replies read afterwards.
    var pipelining = false
    /// Send the body as BDAT chunks of this many bytes (RFC 3030) instead of DATA.
    var chunkSize: Int? = nil
    /// smtplib's socket timeout, seconds.
    var timeout: Double = 20
}
