/// The Session header (RFC 2326 §12.37): `id[;timeout=seconds]`.
///
/// A client must echo the id alone (some cameras reject `;timeout=` echoed back) and send a
/// keepalive well before the timeout; RFC 2326 says 60 s when none is given.
public struct RTSPSessionHeader: Equatable, Sendable {
    public static let defaultTimeoutSeconds = 60

    public var id: String
    /// nil when the header gave none (or an unreadable one).
    public var timeoutSeconds: Int?

    public init(id: String, timeoutSeconds: Int? = nil) {
        self.id = id
        self.timeoutSeconds = timeoutSeconds
    }

    /// nil for an empty id. Spaces around parts and unknown parameters are tolerated.
    public static func parse(_ value: String) -> RTSPSessionHeader? {
        let parts = value.split(separator: ";", omittingEmptySubsequences: false)
        let id = RTSPTransport.trim(parts[0])
        guard !id.isEmpty else { return nil }
        var header = RTSPSessionHeader(id: id)
        for part in parts.dropFirst() {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, RTSPTransport.trim(kv[0]).lowercased() == "timeout" else { continue }
            let digits = RTSPTransport.trim(kv[1])
            // Up to a day: anything longer is a typo or an attack on our timers.
            if digits.utf8.count <= 5, let seconds = Int(digits), seconds > 0, seconds <= 86_400 {
                header.timeoutSeconds = seconds
            }
        }
        return header
    }

    /// `id` or `id;timeout=N` (the server side's reply form).
    public func serialized() -> String {
        if let timeoutSeconds { return "\(id);timeout=\(timeoutSeconds)" }
        return id
    }

    /// The timeout to plan keepalives against.
    public var effectiveTimeoutSeconds: Int { timeoutSeconds ?? Self.defaultTimeoutSeconds }
}
