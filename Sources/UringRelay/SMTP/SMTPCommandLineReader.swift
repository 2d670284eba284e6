/// Splits the SMTP command stream into command lines, resumably: feed it whatever arrived, in any
/// pieces; the same bytes split anywhere give the same events and the same line boundaries.
///
/// Rules (we are strict):
/// - A command line ends with CRLF; the event carries the line without the CRLF.
/// - Every LF ends a line. A line that ends in a bare LF, or that contains a CR not followed by
///   LF, yields `.bareLineEnding` once the line ends (all of it, through the LF, is discarded).
/// - A line longer than 512 octets including the CRLF (RFC 5321 4.5.3.1.4) yields `.tooLong`
///   once, when it ends (its bytes through the next LF are discarded). `.tooLong` wins over
///   `.bareLineEnding` when a line is both. No more than 511 bytes of a partial line are held.
///
/// `next` stops right after the line that produced an event and says how many bytes it consumed,
/// so that after `DATA\r\n` or `BDAT n\r\n` the caller can hand the following bytes to the data
/// reader instead (pipelining). Bytes are examined in place; a line is copied once, into the
/// event's array (no allocation per byte; one per line).
public struct SMTPCommandLineReader: Sendable {
    /// Maximum command line length including CRLF (RFC 5321 4.5.3.1.4).
    public static let maximumLineLength = 512

    public enum Event: Equatable, Sendable {
        /// A complete command line, CRLF removed.
        case line([UInt8])
        /// A line over 512 octets; reply `SMTPReply.lineTooLong`.
        case tooLong
        /// A line with a bare CR or ending in a bare LF; reply `SMTPReply.bareLineEnding`.
        case bareLineEnding
    }

    /// Held bytes of the current line from earlier calls (at most 511, possibly ending in CR).
    private var partial: [UInt8] = []
    /// Octets of the current line seen so far, before its LF.
    private var lineLength = 0
    private var previousWasCR = false
    private var overLong = false
    private var bare = false

    public init() {
        partial.reserveCapacity(Self.maximumLineLength)
    }

    /// True when the last call ended inside a line (bytes held or being discarded).
    public var isInsideLine: Bool { lineLength > 0 }

    /// Bytes of a partial line held between calls (never more than 511).
    public var bufferedCount: Int { partial.count }

    /// Forget any partial line.
    public mutating func reset() {
        partial.removeAll(keepingCapacity: true)
        lineLength = 0
        previousWasCR = false
        overLong = false
        bare = false
    }

    /// Examine `input` from its start. Returns the first event and the number of bytes consumed up
    /// to and including the LF that ended its line; or `nil` and `input.count` when no line ended
    /// (the partial line is kept for the next call).
    public mutating func next(_ input: UnsafeRawBufferPointer) -> (event: Event?, consumed: Int) {
        let count = input.count
        var i = 0
        while i < count {
            let b = input[i]
            if b == 10 {
                return (finishLine(input, lfIndex: i), i + 1)
            }
            if previousWasCR && !bare {
                // A CR followed by something other than LF.
                bare = true
                partial.removeAll(keepingCapacity: true)
            }
            previousWasCR = b == 13
            lineLength += 1
            if lineLength >= Self.maximumLineLength && !overLong {
                // Even if the next byte is LF, the line is over 512 octets with it.
                overLong = true
                partial.removeAll(keepingCapacity: true)
            }
            i += 1
        }
        if !overLong && !bare {
            // The whole tail of this input belongs to the current line (it began at index 0 or
            // at the start of this call, since a line ending returns early).
            partial.append(contentsOf: input)
        }
        return (nil, count)
    }

    /// `next` over an array slice.
    public mutating func next(_ input: ArraySlice<UInt8>) -> (event: Event?, consumed: Int) {
        input.withUnsafeBytes { next($0) }
    }

    /// `next` over an array.
    public mutating func next(_ input: [UInt8]) -> (event: Event?, consumed: Int) {
        input.withUnsafeBytes { next($0) }
    }

    /// Every event in `input`, consuming all of it (partial line kept). Convenience for tests and
    /// for callers that never switch modes mid-buffer.
    public mutating func events(_ input: [UInt8]) -> [Event] {
        var out: [Event] = []
        var offset = 0
        while offset < input.count {
            let r = next(input[offset...])
            offset += r.consumed
            if let e = r.event { out.append(e) }
        }
        return out
    }

    private mutating func finishLine(_ input: UnsafeRawBufferPointer, lfIndex: Int) -> Event {
        defer {
            partial.removeAll(keepingCapacity: true)
            lineLength = 0
            previousWasCR = false
            overLong = false
            bare = false
        }
        if overLong { return .tooLong }
        if bare || !previousWasCR { return .bareLineEnding }
        // The CR is either input[lfIndex - 1] or the last held byte.
        if partial.isEmpty {
            return .line(Array(input[0..<(lfIndex - 1)]))
        }
        var line = partial
        if lfIndex > 0 {
            line.append(contentsOf: input[0..<(lfIndex - 1)])
        } else {
            line.removeLast()
        }
        return .line(line)
    }
}
