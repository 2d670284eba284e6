/// Turns the octets of BDAT chunks (RFC 3030: exact counts, no dot-stuffing) into a DATA body
/// for an upstream without CHUNKING: a "." is added before every line that starts with ".",
/// and the body is made to end with CRLF before the caller's own `.\r\n`.
///
/// Feed only chunk octets (the caller counts them off the BDAT sizes), split anywhere, then
/// call `finish()` after the LAST chunk. The same rules as for DATA apply: bare CR and NUL are
/// refused, bare LF is refused or (`.normalize`) forwarded as CRLF, lines are limited to 1000
/// octets including CRLF as they go out (a stuffed dot counts), and the size limit counts the
/// chunk octets received. After a violation nothing more is forwarded; keep feeding the chunk
/// octets, and `finish()` reports the violation.
public struct BDATChunkConverter: Sendable {
    public let maxMessageBytes: Int
    public let bareLineEndings: BareLinePolicy

    /// Chunk octets received so far. Stops growing at a violation.
    public private(set) var messageBytes = 0
    /// Set at the first violation.
    public private(set) var violation: DataViolation?
    /// True once `finish()` was called.
    public private(set) var isFinished = false

    enum Phase: UInt8, Sendable {
        case lineStart
        case midLine
        /// Held: a CR that may start a CRLF.
        case cr
        case discard
    }

    var phase: Phase = .lineStart
    /// Octets of the current output line (CRLF not counted, a stuffing dot counted).
    var lineLength = 0

    static let crBytes: [UInt8] = [13]
    static let dotBytes: [UInt8] = [46]
    static let crlfBytes: [UInt8] = [13, 10]

    public init(maxMessageBytes: Int, bareLineEndings: BareLinePolicy = .reject) {
        self.maxMessageBytes = max(0, maxMessageBytes)
        self.bareLineEndings = bareLineEndings
    }

    /// Converts chunk octets. Forward `prefix` then `input[forward]`; if
    /// `consumed < input.count`, call again with the rest. `ended` is always false here.
    public mutating func convert(_ input: UnsafeRawBufferPointer) -> DataScanResult {
        let n = input.count
        guard n > 0, let base = input.baseAddress, !isFinished else {
            return DataScanResult(consumed: isFinished ? 0 : n, forward: 0..<0, violation: violation)
        }
        if phase == .discard {
            return DataScanResult(consumed: n, forward: 0..<0, violation: violation)
        }
        var prefix: [UInt8] = []
        var fwdStart = 0
        var fwdEnd = 0
        var heldInInput = false
        var i = 0
        while i < n {
            let b = base.load(fromByteOffset: i, as: UInt8.self)
            switch phase {
            case .lineStart, .midLine:
                if b == SMTPTextScan.cr {
                    phase = .cr
                    heldInInput = true
                    i += 1
                    continue
                }
                if b == SMTPTextScan.nul { fail(.nul); continue }
                if b == SMTPTextScan.lf {
                    if bareLineEndings == .reject { fail(.bareLF); continue }
                    guard messageBytes < maxMessageBytes else { fail(.tooLarge); continue }
                    if !(prefix.isEmpty && fwdEnd == fwdStart) {
                        return DataScanResult(consumed: i, prefix: prefix, forward: fwdStart..<fwdEnd)
                    }
                    messageBytes += 1
                    lineLength = 0
                    prefix = Self.crBytes
                    fwdStart = i
                    fwdEnd = i + 1
                    phase = .lineStart
                    i += 1
                    continue
                }
                if phase == .lineStart && b == SMTPTextScan.dot {
                    if !(prefix.isEmpty && fwdEnd == fwdStart) {
                        return DataScanResult(consumed: i, prefix: prefix, forward: fwdStart..<fwdEnd)
                    }
                    prefix = Self.dotBytes
                    fwdStart = i
                    fwdEnd = i
                    lineLength = 0  // the stuffing dot does not count (RFC 5321 4.5.3.1.6)
                }
                let j = SMTPTextScan.firstSpecial(input, from: i + 1, to: n)
                let run = j - i
                let lineRoom = SMTPTextScan.maxLineContent - lineLength
                let sizeRoom = maxMessageBytes - messageBytes
                if run > lineRoom || run > sizeRoom {
                    let k = max(0, min(lineRoom, sizeRoom))
                    lineLength += k
                    messageBytes += k
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

            case .cr:
                guard b == SMTPTextScan.lf else { fail(.bareCR); continue }
                guard messageBytes <= maxMessageBytes - 2 else { fail(.tooLarge); continue }
                messageBytes += 2
                lineLength = 0
                if !heldInInput { prefix = Self.crBytes }
                i += 1
                fwdEnd = i
                phase = .lineStart

            case .discard:
                i = n
            }
        }
        return DataScanResult(consumed: n, prefix: prefix, forward: fwdStart..<fwdEnd, violation: violation)
    }

    /// Call after the LAST chunk's octets. `prefix` holds what still has to be forwarded (a
    /// CRLF when the body did not end with one) before the caller's `.\r\n`; `ended` is true.
    public mutating func finish() -> DataScanResult {
        if !isFinished {
            isFinished = true
            if phase == .cr { fail(.bareCR) }
            if violation == nil && phase == .midLine {
                phase = .lineStart
                return DataScanResult(consumed: 0, prefix: Self.crlfBytes, forward: 0..<0, ended: true)
            }
        }
        return DataScanResult(consumed: 0, forward: 0..<0, ended: true, violation: violation)
    }

    mutating func fail(_ reason: DataViolation) {
        if violation == nil { violation = reason }
        phase = .discard
    }
}
