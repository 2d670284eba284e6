/// Where one recipient of a spooled message stands.
public enum SpoolRecipientStatus: String, Equatable, Sendable {
    /// Not delivered yet: tried again when the message is due.
    case pending
    /// The upstream took it (2xx at the end of data).
    case delivered
    /// Failed for good (5xx, or still failing when the message expired): a DSN was spooled.
    case bounced
}
