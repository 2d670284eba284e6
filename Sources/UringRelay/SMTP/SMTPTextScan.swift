/// Byte search shared by the SMTP body codecs.
enum SMTPTextScan {
    static let cr: UInt8 = 13
    static let lf: UInt8 = 10
    static let dot: UInt8 = 46
    static let nul: UInt8 = 0

    /// Longest text line content allowed: 1000 octets including CRLF (RFC 5321 4.5.3.1.6).
    static let maxLineContent = 998

    /// Index of the first CR, LF or NUL in `p[from..<end]`, or `end`. Checks eight bytes at a
    /// time for any byte below 14 and only then looks at single bytes.
    @inline(__always)
    static func firstSpecial(_ p: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int {
        guard let base = p.baseAddress else { return end }
        var i = from
        while i < end {
            if i + 8 <= end {
                let w = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                // Nonzero iff some byte of w is < 0x0E.
                if (w &- 0x0E0E_0E0E_0E0E_0E0E) & ~w & 0x8080_8080_8080_8080 == 0 {
                    i += 8
                    continue
                }
            }
            let stop = min(i + 8, end)
            while i < stop {
                let b = base.load(fromByteOffset: i, as: UInt8.self)
                if b == cr || b == lf || b == nul { return i }
                i += 1
            }
        }
        return end
    }
}
