/// RFC 5321 4.5.2 transparency for text the relay writes itself (DSNs): a "." is added before
/// every line that starts with one, and the text is made to end in CRLF, so it can be stored
/// in the spool as DATA text like any received body.
public enum DotStuffing {
    public static func stuff(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count + 16)
        var atLineStart = true
        for b in text {
            if atLineStart && b == UInt8(ascii: ".") { out.append(b) }
            out.append(b)
            atLineStart = b == 10
        }
        if !out.isEmpty && !(out.count >= 2 && out[out.count - 2] == 13 && out[out.count - 1] == 10) {
            out += [13, 10]
        }
        return out
    }

    /// The reverse, for showing stored text (a DSN's copy of the original headers).
    public static func unstuff(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var atLineStart = true
        for b in text {
            if atLineStart && b == UInt8(ascii: ".") {
                atLineStart = false  // the stuffing dot; a second one is text
                continue
            }
            out.append(b)
            atLineStart = b == 10
        }
        return out
    }
}
