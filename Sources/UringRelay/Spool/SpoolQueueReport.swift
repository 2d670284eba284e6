/// One line per spooled message for `uring-relay queue list`:
///
///     ID  SIZE  AGE  PENDING/RCPTS  NEXT  SENDER  LAST-ERROR
///
/// Pure: the caller gives the messages and the time.
public enum SpoolQueueReport {
    public static let heading = "id\tbytes\tage\tpending\tnext\tfrom\tlast error"

    public static func line(_ m: SpooledMessage, nowUnixMs: Int64) -> String {
        let p = m.progress
        let next = p.nextAttemptUnixMs <= nowUnixMs ? "now" : "in " + duration(p.nextAttemptUnixMs - nowUnixMs)
        let error = p.lastError.isEmpty ? "-" : p.lastError
        return "\(m.id)\t\(m.fileBytes)\t\(duration(nowUnixMs - m.envelope.arrivalUnixMs))\t"
            + "\(p.pendingIndices.count)/\(m.envelope.recipients.count)\t\(next)\t\(m.envelope.reversePath)\t\(error)"
    }

    /// "42s", "7m", "3h", "2d".
    public static func duration(_ ms: Int64) -> String {
        let s = max(0, ms / 1000)
        if s < 120 { return "\(s)s" }
        if s < 7200 { return "\(s / 60)m" }
        if s < 172_800 { return "\(s / 3600)h" }
        return "\(s / 86_400)d"
    }
}
