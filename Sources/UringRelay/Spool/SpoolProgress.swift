/// The mutable half of a spooled message, kept beside it in `queue/ID.state` and replaced
/// whole (write a temporary file, rename it over) after each delivery attempt that leaves
/// work to do. A message without one has never been tried: every recipient pending.
///
/// Format, version 1 (LF-terminated lines; fields of `rcpt` lines separated by one TAB, which
/// no SMTP path or reply text can contain):
///
///     uring-relay spool-state 1
///     attempts 2
///     next-ms 1767226200000
///     rcpt	0	delivered
///     rcpt	1	pending	451 4.2.0 Mailbox busy
///
/// Losing an update (a crash before the rename) only means recipients already delivered are
/// delivered again: the spool promises at least once.
public struct SpoolProgress: Equatable, Sendable {
    public static let formatLine = "uring-relay spool-state 1"

    public struct Recipient: Equatable, Sendable {
        public var status: SpoolRecipientStatus
        /// The last reply or failure for it ("451 4.2.0 Mailbox busy", "connect: ECONNREFUSED").
        public var lastError: String

        public init(status: SpoolRecipientStatus = .pending, lastError: String = "") {
            self.status = status
            self.lastError = lastError
        }
    }

    public var attempts: Int
    /// When the message is due again (Unix ms); 0: now.
    public var nextAttemptUnixMs: Int64
    public var recipients: [Recipient]

    public init(recipientCount: Int) {
        attempts = 0
        nextAttemptUnixMs = 0
        recipients = Array(repeating: Recipient(), count: recipientCount)
    }

    public var pendingIndices: [Int] { recipients.indices.filter { recipients[$0].status == .pending } }
    public var isFinished: Bool { !recipients.contains { $0.status == .pending } }
    /// The most recent error of a pending recipient, for `queue list`.
    public var lastError: String { recipients.last { $0.status == .pending && !$0.lastError.isEmpty }?.lastError ?? "" }

    public func encoded() -> [UInt8] {
        var text = "\(Self.formatLine)\nattempts \(attempts)\nnext-ms \(nextAttemptUnixMs)\n"
        for (i, r) in recipients.enumerated() {
            text += "rcpt\t\(i)\t\(r.status.rawValue)"
            if !r.lastError.isEmpty { text += "\t" + Self.oneLine(r.lastError) }
            text += "\n"
        }
        return Array(text.utf8)
    }

    /// Parses a state file for a message of `recipientCount` recipients; nil if it is not one
    /// (the caller then starts from "never tried", which only risks a duplicate).
    public static func parse(_ bytes: [UInt8], recipientCount: Int) -> SpoolProgress? {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == Substring(formatLine) else { return nil }
        var p = SpoolProgress(recipientCount: recipientCount)
        for line in lines.dropFirst() where !line.isEmpty {
            if line.hasPrefix("attempts ") {
                guard let n = Int(line.dropFirst(9)), n >= 0 else { return nil }
                p.attempts = n
            } else if line.hasPrefix("next-ms ") {
                guard let n = Int64(line.dropFirst(8)) else { return nil }
                p.nextAttemptUnixMs = n
            } else if line.hasPrefix("rcpt\t") {
                let f = line.split(separator: "\t", maxSplits: 3, omittingEmptySubsequences: false)
                guard f.count >= 3, let i = Int(f[1]), i >= 0, i < recipientCount,
                      let status = SpoolRecipientStatus(rawValue: String(f[2])) else { return nil }
                p.recipients[i] = Recipient(status: status, lastError: f.count > 3 ? String(f[3]) : "")
            }
        }
        return p
    }

    static func oneLine(_ s: String) -> String {
        String(s.map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
