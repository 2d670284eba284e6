/// Why a message body is refused. The message is consumed to its end and then rejected with
/// `replyCode` / `enhancedStatus`; the session stays usable.
public enum DataViolation: Sendable, Equatable, CustomStringConvertible {
    /// An LF not preceded by CR (under `BareLinePolicy.reject`).
    case bareLF
    /// A CR not followed by LF.
    case bareCR
    /// A NUL octet.
    case nul
    /// A text line over 1000 octets including CRLF (RFC 5321 4.5.3.1.6).
    case lineTooLong
    /// The message grew past the configured size limit.
    case tooLarge

    /// The basic reply code to give the client once the body has ended.
    public var replyCode: Int {
        switch self {
        case .tooLarge: 552
        case .bareLF, .bareCR, .nul, .lineTooLong: 550
        }
    }

    /// The enhanced status code (RFC 3463) for the reply.
    public var enhancedStatus: String {
        switch self {
        case .tooLarge: "5.3.4"
        case .bareLF, .bareCR, .lineTooLong: "5.5.2"
        case .nul: "5.6.0"
        }
    }

    /// A short reply text.
    public var replyText: String {
        switch self {
        case .bareLF: "Message contains bare LF; line endings must be CRLF"
        case .bareCR: "Message contains bare CR; line endings must be CRLF"
        case .nul: "Message contains NUL octets"
        case .lineTooLong: "Message contains a line over 1000 octets"
        case .tooLarge: "Message exceeds the size limit"
        }
    }

    public var description: String {
        switch self {
        case .bareLF: "bareLF"
        case .bareCR: "bareCR"
        case .nul: "nul"
        case .lineTooLong: "lineTooLong"
        case .tooLarge: "tooLarge"
        }
    }
}
