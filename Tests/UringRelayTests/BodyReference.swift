@testable import UringRelay

/// Slow, obvious models of the body codecs to compare the real ones against.
enum BodyReference {
    struct Expected {
        var ended: Bool
        /// Input bytes up to and including the terminator (or all input).
        var consumed: Int
        /// The body as received, terminator excluded.
        var body: [UInt8]
        var violation: DataViolation?
        /// Where the first violation is (index into `body`).
        var violationAt: Int
        /// What the upstream should get if the message is fine (DATA: body after
        /// normalization; BDAT: the stuffed body).
        var output: [UInt8]
    }

    static let terminator: [UInt8] = [13, 10, 46, 13, 10]

    static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where Array(hay[i..<(i + needle.count)]) == needle {
            return i
        }
        return nil
    }

    /// First violation in a DATA body (or chunk octets when `bdat`).
    static func firstViolation(
        _ body: [UInt8], max: Int, policy: BareLinePolicy, bdat: Bool
    ) -> (DataViolation, Int)? {
        var line = 0
        var p = 0
        while p < body.count {
            let b = body[p]
            if b == 0 { return (.nul, p) }
            if b == 13 {
                guard p + 1 < body.count, body[p + 1] == 10 else { return (.bareCR, p) }
                if p + 2 > max { return (.tooLarge, p + 1) }
                line = 0
                p += 2
                continue
            }
            if b == 10 {
                if policy == .reject { return (.bareLF, p) }
                if p + 1 > max { return (.tooLarge, p) }
                line = 0
                p += 1
                continue
            }
            // DATA: a "." starting a line is undecided until the next byte; before a CR or LF it is
            // only counted with what follows.
            let dotBeforeCR = !bdat && line == 0 && b == 46 && p + 1 < body.count && (body[p + 1] == 13 || body[p + 1] == 10)
            if p + 1 > max && !dotBeforeCR { return (.tooLarge, p) }
            let stuffed = bdat && line == 0 && b == 46 ? 1 : 0
            line += 1 + stuffed
            if line > 998 { return (.lineTooLong, p) }
            p += 1
        }
        return nil
    }

    /// Splits at CRLF (and bare LF when normalizing); the last element is the unterminated rest.
    static func lines(_ body: [UInt8], policy: BareLinePolicy) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var cur: [UInt8] = []
        var p = 0
        while p < body.count {
            if body[p] == 13 && p + 1 < body.count && body[p + 1] == 10 {
                lines.append(cur); cur = []; p += 2; continue
            }
            if body[p] == 10 && policy == .normalize {
                lines.append(cur); cur = []; p += 1; continue
            }
            cur.append(body[p]); p += 1
        }
        lines.append(cur)
        return lines
    }

    static func data(_ input: [UInt8], max: Int, policy: BareLinePolicy) -> Expected {
        let k = find(terminator, in: [13, 10] + input)
        let body = Array(input[0..<(k ?? input.count)])
        let v = firstViolation(body, max: max, policy: policy, bdat: false)
        var output: [UInt8] = []
        var ls = lines(body, policy: policy)
        let rest = ls.removeLast()
        for l in ls { output += (l == [46] ? [46, 46] : l) + [13, 10] }
        output += rest
        return Expected(
            ended: k != nil, consumed: k.map { $0 + 3 } ?? input.count, body: body,
            violation: v?.0, violationAt: v?.1 ?? body.count, output: output)
    }

    static func bdat(_ input: [UInt8], max: Int, policy: BareLinePolicy) -> Expected {
        let v = firstViolation(input, max: max, policy: policy, bdat: true)
        var output: [UInt8] = []
        var ls = lines(input, policy: policy)
        let rest = ls.removeLast()
        for l in ls { output += (l.first == 46 ? [46] : []) + l + [13, 10] }
        if !rest.isEmpty { output += (rest.first == 46 ? [46] : []) + rest + [13, 10] }
        return Expected(
            ended: true, consumed: input.count, body: input, violation: v?.0,
            violationAt: v?.1 ?? input.count, output: output)
    }
}
