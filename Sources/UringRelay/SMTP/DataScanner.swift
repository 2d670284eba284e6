/// Resumable scanner of an SMTP DATA body as the client sends it (after the 354 reply).
///
/// The body is forwarded upstream as DATA too, so its dot-stuffing is kept by forwarding the
/// bytes as received. The scanner finds the end — only CRLF "." CRLF, where the first CRLF ends
/// the last body line (or `.\r\n` as the very first line: empty body) — and makes sure nothing
/// unsafe is forwarded: no bare CR, no bare LF (unless normalized to CRLF), no NUL, no line
/// over 1000 octets, nothing past the size limit, and never a sequence the upstream could read
/// as an end of data.
///
/// Bytes not yet decided (a CR at the end of a chunk, a "." at the start of a line and a CR
/// after it) are held back, at most two bytes, and forwarded by a later call as `prefix`.
/// In `.normalize` mode a call may stop early (`consumed < input.count`) where it has to
/// insert bytes after output already given; call again with the rest.
///
/// After a violation nothing more of the message is forwarded; the scanner keeps consuming
/// until the real end and then reports `ended` with the `violation`.
public struct DataScanner: Sendable {
    public let maxMessageBytes: Int
    public let bareLineEndings: BareLinePolicy

    /// Body bytes received so far, as received (dot-stuffing included), without the
    /// terminating `.\r\n`. Stops growing at a violation.
    public private(set) var messageBytes = 0
    /// Set at the first violation.
    public private(set) var violation: DataViolation?

    enum Phase: UInt8, Sendable {
        /// Start of a line after a received CRLF (or of the body): a "." may begin the end.
        case lineStart
        /// `.normalize` only: start of a line after a bare LF that is forwarded as CRLF.
        case softLineStart
        case midLine
        /// Held: a CR that may start a CRLF.
        case cr
        /// Held: "." at a `lineStart`.
        case dot
        /// Held: ".\r" at a `lineStart`.
        case dotCR
        /// Held: "." at a `softLineStart`.
        case softDot
        /// Held: ".\r" at a `softLineStart`.
        case softDotCR
        /// After a violation: only looking for CRLF "." CRLF.
        case discard
        case ended
    }

    var phase: Phase = .lineStart
    /// Content octets of the current line (CRLF not counted).
    var lineLength = 0
    /// In `.discard`: how much of CRLF "." CRLF has been matched (0...4).
    var match = 0

    static let crBytes: [UInt8] = [13]
    static let dotBytes: [UInt8] = [46]
    static let stuffedLineStart: [UInt8] = [46, 46, 13]

    public init(maxMessageBytes: Int, bareLineEndings: BareLinePolicy = .reject) {
        self.maxMessageBytes = max(0, maxMessageBytes)
        self.bareLineEndings = bareLineEndings
    }

    /// True once the terminating `.\r\n` has been consumed.
    public var isEnded: Bool { phase == .ended }

    /// Scans `input`. See `DataScanResult` for how to use the answer.
    public mutating func scan(_ input: UnsafeRawBufferPointer) -> DataScanResult {
        let n = input.count
        if phase == .ended {
            return DataScanResult(consumed: 0, forward: 0..<0, ended: true, violation: violation)
        }
        guard n > 0, let base = input.baseAddress else {
            return DataScanResult(consumed: 0, forward: 0..<0, violation: violation)
        }
        var prefix: [UInt8] = []
        var fwdStart = 0
        var fwdEnd = 0
        // Whether the bytes a held phase stands for lie in this input (at fwdEnd..<i) or were
        // carried over from an earlier call.
        var heldInInput = false
        // Where a held "." lies in this input (when `heldInInput`).
        var heldStart = 0
        var i = 0

        while i < n {
            let b = base.load(fromByteOffset: i, as: UInt8.self)
            switch phase {
            case .midLine, .lineStart, .softLineStart:
                if b > SMTPTextScan.cr || (b != SMTPTextScan.cr && b != SMTPTextScan.lf && b != SMTPTextScan.nul) {
                    if b == SMTPTextScan.dot && phase != .midLine {
                        phase = phase == .lineStart ? .dot : .softDot
                        heldStart = i
                        heldInInput = true
                        i += 1
                        continue
                    }
                    // A run of ordinary bytes.
                    let j = SMTPTextScan.firstSpecial(input, from: i + 1, to: n)
                    let run = j - i
                    let lineRoom = SMTPTextScan.maxLineContent - lineLength
                    let sizeRoom = maxMessageBytes - messageBytes
                    if run > lineRoom || run > sizeRoom {
                        let k = min(lineRoom, sizeRoom)
                        lineLength += k
                        messageBytes += k
                        phase = .midLine
                        fwdEnd = i + k
                        i += k
                        fail(lineRoom < sizeRoom ? .lineTooLong : .tooLarge)
                        continue
                    }
                    lineLength += run
                    messageBytes += run
                    phase = .midLine
                    i = j
                    fwdEnd = j
                    continue
                }
                if b == SMTPTextScan.cr {
                    phase = .cr
                    heldInInput = true
                    i += 1
                    continue
                }
                if b == SMTPTextScan.nul {
                    fail(.nul)
                    continue
                }
                // Bare LF.
                if bareLineEndings == .reject {
                    fail(.bareLF)
                    continue
                }
                guard sizeAllows(1) else { fail(.tooLarge); continue }
                if !(prefix.isEmpty && fwdEnd == fwdStart) { return result(i, prefix, fwdStart, fwdEnd) }
                messageBytes += 1
                lineLength = 0
                prefix = Self.crBytes
                fwdStart = i
                fwdEnd = i + 1
                phase = .softLineStart
                i += 1

            case .cr:
                guard b == SMTPTextScan.lf else { fail(.bareCR); continue }
                guard sizeAllows(2) else { fail(.tooLarge); continue }
                messageBytes += 2
                lineLength = 0
                if !heldInInput { prefix = Self.crBytes }
                i += 1
                fwdEnd = i
                phase = .lineStart

            case .dot, .softDot:
                if b == SMTPTextScan.cr {
                    phase = phase == .dot ? .dotCR : .softDotCR
                    i += 1
                    continue
                }
                if b == SMTPTextScan.lf {
                    if bareLineEndings == .reject { fail(.bareLF); continue }
                    // A line "." ended by a bare LF: forward "..\r\n".
                    guard sizeAllows(2) else { fail(.tooLarge); continue }
                    if !(prefix.isEmpty && fwdEnd == fwdStart) {
                        // Output already started in this call: stop before the "." and
                        // insert on the next call.
                        phase = phase == .dot ? .lineStart : .softLineStart
                        return result(heldStart, prefix, fwdStart, fwdEnd)
                    }
                    messageBytes += 2
                    lineLength = 0
                    prefix = Self.stuffedLineStart
                    fwdStart = i
                    fwdEnd = i + 1
                    phase = .softLineStart
                    i += 1
                    continue
                }
                // The "." is ordinary text: release it and treat `b` as mid-line.
                guard sizeAllows(1) else { fail(.tooLarge); continue }
                messageBytes += 1
                // RFC 5321 4.5.3.1.6: the leading (transparency) dot does not count towards
                // the 1000 octets of a line.
                lineLength = 0
                if heldInInput { fwdEnd = i } else { prefix = Self.dotBytes }
                phase = .midLine

            case .dotCR:
                guard b == SMTPTextScan.lf else { fail(.bareCR); continue }
                i += 1
                phase = .ended
                return DataScanResult(
                    consumed: i, prefix: prefix, forward: fwdStart..<fwdEnd, ended: true)

            case .softDotCR:
                guard b == SMTPTextScan.lf else { fail(.bareCR); continue }
                // A line "." after a normalized line ending, ended by CRLF: forward "..\r\n".
                guard sizeAllows(3) else { fail(.tooLarge); continue }
                if !(prefix.isEmpty && fwdEnd == fwdStart) {
                    phase = .softLineStart
                    return result(heldStart, prefix, fwdStart, fwdEnd)
                }
                messageBytes += 3
                lineLength = 0
                prefix = Self.stuffedLineStart
                fwdStart = i
                fwdEnd = i + 1
                phase = .lineStart
                i += 1

            case .discard:
                if match == 0 {
                    let j = SMTPTextScan.firstSpecial(input, from: i, to: n)
                    if j == n { i = n; continue }
                    i = j
                }
                let c = base.load(fromByteOffset: i, as: UInt8.self)
                i += 1
                switch c {
                case SMTPTextScan.cr: match = match == 3 ? 4 : 1
                case SMTPTextScan.lf:
                    if match == 4 {
                        phase = .ended
                        return DataScanResult(
                            consumed: i, prefix: prefix, forward: fwdStart..<fwdEnd, ended: true,
                            violation: violation)
                    }
                    match = match == 1 ? 2 : 0
                case SMTPTextScan.dot: match = match == 2 ? 3 : 0
                default: match = 0
                }

            case .ended:
                return DataScanResult(
                    consumed: i, prefix: prefix, forward: fwdStart..<fwdEnd, ended: true,
                    violation: violation)
            }
        }
        return result(n, prefix, fwdStart, fwdEnd)
    }

    @inline(__always)
    func sizeAllows(_ k: Int) -> Bool { messageBytes <= maxMessageBytes - k }

    @inline(__always)
    func result(_ consumed: Int, _ prefix: [UInt8], _ s: Int, _ e: Int) -> DataScanResult {
        DataScanResult(consumed: consumed, prefix: prefix, forward: s..<e, violation: violation)
    }

    /// Records a violation and switches to looking for the real end. The byte that caused it
    /// is then read again in discard mode.
    mutating func fail(_ reason: DataViolation) {
        if violation == nil { violation = reason }
        switch phase {
        case .lineStart: match = 2
        case .dot: match = 3
        case .dotCR: match = 4
        case .cr, .softDotCR: match = 1
        default: match = 0
        }
        phase = .discard
    }
}
