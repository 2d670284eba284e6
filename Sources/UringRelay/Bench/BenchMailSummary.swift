/// What relay-bench's SMTP sink learned from one message (see BenchMailScanner).
public struct BenchMailSummary: Sendable, Equatable {
    /// From the X-Bench-Id header; nil when it is missing or malformed.
    public var id: BenchMailID?
    /// X-Bench-Id header fields seen; exactly 1 in a good message.
    public var idFields = 0
    /// BenchMailDigest of the unstuffed message after its leading Received fields, without the
    /// X-Bench-Id field (so every message of one template has the same digest).
    public var digest: UInt64 = 0
    /// Octets that went into the digest.
    public var octets = 0
    /// Leading `Received:` header fields skipped, each with its folded continuation lines.
    public var receivedFields = 0
    /// Lines that ended in a bare LF: never valid on the wire, so a relay that forwards one is wrong.
    public var bareLineEndings = 0

    public init() {}
}
