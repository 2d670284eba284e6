/// A committed message found in `queue/` (at start-up, or by `uring-relay queue`).
public struct SpooledMessage: Sendable {
    public var envelope: SpoolEnvelope
    public var bodyOffset: Int
    /// Size of the message file (what the spool limit counts).
    public var fileBytes: Int
    public var progress: SpoolProgress

    public var id: String { envelope.id }
    public var bodyBytes: Int { fileBytes - bodyOffset }
}
