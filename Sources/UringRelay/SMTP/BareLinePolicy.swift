/// What a message body codec does with a bare LF (an LF not preceded by CR).
///
/// Bare CR and NUL are rejected under either policy.
public enum BareLinePolicy: Sendable, Equatable {
    /// Reject the message (550 5.5.2 after the end of data). The default.
    case reject
    /// Forward a bare LF as CRLF. Only a CRLF "." CRLF received as such still ends the data;
    /// a line holding a single "." after a normalized line ending is dot-stuffed to ".." so the
    /// upstream does not see an end either.
    case normalize
}
