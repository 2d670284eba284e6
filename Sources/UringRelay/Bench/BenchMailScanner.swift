import Glibc  // memchr: the sink scans every body byte on the load CPU, so the search must be fast

/// Reads one message's DATA as it arrives at relay-bench's SMTP sink, resumably (any split of
/// the input gives the same result): finds the end-of-data line, undoes dot-stuffing, skips the
/// leading `Received:` fields a relay prepends (with their folded continuation lines), takes the
/// X-Bench-Id value out, and digests everything else (BenchMailDigest), so the load generator
/// can check that each message arrived exactly once and unchanged.
///
/// Strict like a real server: only a line that follows CRLF can be the end ".\r\n" or carry a
/// stuffing dot; a bare LF is counted (the relay must never forward one) and the line after it
/// is plain content. Written independently of the relay's DataScanner on purpose: a benchmark
/// that checked the relay with the relay's own parser would share its bugs.
public struct BenchMailScanner: Sendable {
    private enum LineState { case lineStart, dot, dotCR, inLine }
    private enum HeaderMode { case undecided, skip, id, digest }
    /// Octets of a header line needed to classify it: "x-bench-id:" (the longest name looked for).
    private static let classifyOctets = 11
    private static let received = Array("received:".utf8)
    private static let benchID = Array((BenchMailID.headerName + ":").lowercased().utf8)
    /// More than this after "X-Bench-Id:" cannot be a valid value; the rest is dropped.
    private static let idValueLimit = 64

    private var lineState = LineState.lineStart
    private var inHeader = true
    /// Still among the leading Received fields.
    private var skippingReceived = true
    /// The previous header line belonged to a skipped Received field.
    private var inReceived = false
    private var headerMode = HeaderMode.undecided
    /// The current header line is the empty line that ends the header.
    private var headerEnds = false
    private var headerPrefix: [UInt8] = []
    private var idValue: [UInt8] = []
    /// The last content byte was CR (a line may end in a later input).
    private var lastWasCR = false
    private var digest = BenchMailDigest()
    private var summary = BenchMailSummary()

    public init() {
        headerPrefix.reserveCapacity(Self.classifyOctets)
        idValue.reserveCapacity(Self.idValueLimit)
    }

    /// Forgets the message in progress.
    public mutating func reset() {
        lineState = .lineStart
        inHeader = true
        skippingReceived = true
        inReceived = false
        headerMode = .undecided
        headerEnds = false
        headerPrefix.removeAll(keepingCapacity: true)
        idValue.removeAll(keepingCapacity: true)
        lastWasCR = false
        digest = BenchMailDigest()
        summary = BenchMailSummary()
    }

    /// Feeds DATA bytes in wire form. Returns nil when all of `input` belongs to the message;
    /// otherwise the count of bytes up to and including the end-of-data line — the message is
    /// complete (call `finish()`) and the bytes after it are the next commands.
    public mutating func scan(_ input: UnsafeRawBufferPointer) -> Int? {
        let n = input.count
        guard n > 0, let base = input.baseAddress else { return nil }
        var i = 0
        while i < n {
            switch lineState {
            case .lineStart:
                if input[i] == 46 { lineState = .dot; i += 1 } else { lineState = .inLine }
            case .dot:
                // Anything but CR after a line-start dot means the dot was stuffing: drop it.
                if input[i] == 13 { lineState = .dotCR; i += 1 } else { lineState = .inLine }
            case .dotCR:
                if input[i] == 10 {
                    lineState = .lineStart
                    return i + 1
                }
                // ".\r" then not LF: the dot was stuffing, the CR is content.
                var cr: UInt8 = 13
                withUnsafeBytes(of: &cr) { _ = emit($0, endsLine: false) }
                lineState = .inLine
            case .inLine:
                let start = base + i
                if let lf = memchr(start, 10, n - i) {
                    let length = start.distance(to: UnsafeRawPointer(lf)) + 1
                    let crlf = emit(UnsafeRawBufferPointer(start: start, count: length), endsLine: true)
                    lineState = crlf ? .lineStart : .inLine
                    i += length
                } else {
                    _ = emit(UnsafeRawBufferPointer(start: start, count: n - i), endsLine: false)
                    i = n
                }
            }
        }
        return nil
    }

    /// `scan` over an array slice.
    public mutating func scan(_ input: ArraySlice<UInt8>) -> Int? {
        input.withUnsafeBytes { scan($0) }
    }

    /// The finished message's summary; the scanner is ready for the next message.
    public mutating func finish() -> BenchMailSummary {
        var s = summary
        s.digest = digest.value
        s.octets = digest.octets
        reset()
        return s
    }

    /// Unstuffed content; `endsLine` when it ends with the line's LF. Returns whether that LF
    /// followed a CR.
    private mutating func emit(_ segment: UnsafeRawBufferPointer, endsLine: Bool) -> Bool {
        var crlf = true
        if endsLine {
            crlf = segment.count >= 2 ? segment[segment.count - 2] == 13 : lastWasCR
            if !crlf { summary.bareLineEndings += 1 }
        }
        lastWasCR = segment[segment.count - 1] == 13
        if inHeader {
            header(segment, endsLine: endsLine)
        } else {
            digest.add(segment)
        }
        return crlf
    }

    private mutating func header(_ segment: UnsafeRawBufferPointer, endsLine: Bool) {
        var rest = segment
        if headerMode == .undecided {
            let take = min(rest.count, Self.classifyOctets - headerPrefix.count)
            headerPrefix.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<take]))
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if headerPrefix.count < Self.classifyOctets && !endsLine { return }
            classify()
        }
        switch headerMode {
        case .digest:
            digest.add(rest)
        case .id:
            let room = Self.idValueLimit - idValue.count
            idValue.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<min(room, rest.count)]))
        case .skip, .undecided:
            break
        }
        if endsLine { endHeaderLine() }
    }

    private mutating func classify() {
        let p = headerPrefix
        if p == [13, 10] || p == [10] {
            headerMode = .digest
            headerEnds = true
        } else if skippingReceived && Self.hasPrefix(p, Self.received) {
            headerMode = .skip
            inReceived = true
            summary.receivedFields += 1
        } else if skippingReceived && inReceived && (p[0] == 32 || p[0] == 9) {
            headerMode = .skip  // folded continuation of the Received field
        } else {
            skippingReceived = false
            inReceived = false
            if Self.hasPrefix(p, Self.benchID) {
                headerMode = .id
                summary.idFields += 1
            } else {
                headerMode = .digest
            }
        }
        if headerMode == .digest { digest.add(headerPrefix) }
    }

    private mutating func endHeaderLine() {
        if headerMode == .id && summary.idFields == 1 {
            var value = idValue[...]
            while let last = value.last, last == 10 || last == 13 { value = value.dropLast() }
            summary.id = BenchMailID(headerValue: value)
        }
        if headerEnds {
            inHeader = false
            skippingReceived = false
        }
        headerEnds = false
        headerMode = .undecided
        headerPrefix.removeAll(keepingCapacity: true)
        idValue.removeAll(keepingCapacity: true)
    }

    /// Case-insensitive (ASCII) prefix test.
    private static func hasPrefix(_ bytes: [UInt8], _ lowerPrefix: [UInt8]) -> Bool {
        guard bytes.count >= lowerPrefix.count else { return false }
        for i in 0..<lowerPrefix.count {
            let b = bytes[i]
            let lower = b >= 65 && b <= 90 ? b + 32 : b
            if lower != lowerPrefix[i] { return false }
        }
        return true
    }
}
