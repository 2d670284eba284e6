import Foundation

/// One message an `SMTPUpstreamPeer` received up to its end of data, as recorded by
/// smtp_upstream.py (one JSON line each), whatever the reply was.
struct SMTPUpstreamRecord: Decodable {
    /// 1, 2, ... in the order the ends of data arrived.
    var seq: Int
    /// Which accepted connection (0, 1, ...) carried it.
    var connection: Int
    /// The client's address ("127.0.0.1:40112"): the relay's upstream socket.
    var peer: String
    var helo: String
    var esmtp: Bool
    var mailFrom: String
    /// MAIL parameters as aiosmtpd passes them on: upper-cased ("BODY=8BITMIME", "SMTPUTF8").
    var mailOptions: [String]
    /// Accepted recipients only (refused ones are not part of the envelope).
    var recipients: [String]
    var recipientOptions: [String]
    var smtputf8: Bool
    /// "DATA" or "BDAT".
    var transfer: String
    /// BDAT chunks (0 for DATA).
    var chunks: Int
    /// The client sent more before it had the reply to MAIL or RCPT. false proves nothing.
    var pipelined: Bool
    var size: Int
    var sha256: String
    var bodyBase64: String
    /// The reply given at the end of data ("250 2.0.0 OK queued as 3", "451 ...").
    var reply: String
    var accepted: Bool

    /// The body bytes exactly as the server took them (after dot-unstuffing for DATA).
    var body: [UInt8] { [UInt8](Data(base64Encoded: bodyBase64) ?? Data()) }
    var replyCode: Int { Int(reply.prefix(3)) ?? 0 }

    enum CodingKeys: String, CodingKey {
        case seq, connection, peer, helo, esmtp, smtputf8, transfer, chunks, pipelined, size, sha256, reply, accepted
        case mailFrom = "mail_from", mailOptions = "mail_options", recipients = "rcpt_tos"
        case recipientOptions = "rcpt_options", bodyBase64 = "body_base64"
    }
}
