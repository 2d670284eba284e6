/// Why an upstream reply could not be parsed. The upstream connection is unusable after it.
public enum SMTPReplyParseError: Error, Sendable, Equatable {
    /// A line does not start with a three-digit code (first digit 2-5) followed by " ", "-"
    /// or the end of the line.
    case malformedLine
    /// A continuation line carries a different code from the first line.
    case codeMismatch(first: Int, found: Int)
    /// A line over 512 octets including CRLF.
    case lineTooLong
    /// More than 100 lines in one reply.
    case tooManyLines
}
