/// How `uring-relay smtp` hands mail on (`--mode`).
public enum SMTPDeliveryMode: String, Sendable, CaseIterable {
    /// Cut-through: each message goes to the upstream while the client waits; its 250 is the
    /// upstream's.
    case relay
    /// Store-and-forward: each message is made durable in the spool, then answered 250, and
    /// delivered from there with retries and bounces.
    case queue
}
