@testable import UringRelay

/// Runs a body codec (`DataScanner` or `BDATChunkConverter`) over an input cut into chunks and
/// collects what it forwards, checking the per-call contract on the way.
struct BodyCodecRun: Equatable, CustomStringConvertible {
    var forwarded: [UInt8] = []
    /// Input bytes consumed in total when the end was found (or all of them).
    var consumed = 0
    var ended = false
    var violation: DataViolation?
    /// Contract breaches seen (empty when fine).
    var problems: [String] = []

    var description: String {
        "consumed=\(consumed) ended=\(ended) violation=\(violation.map { "\($0)" } ?? "nil") forwarded=\(BodyCodecRun.escape(forwarded)) problems=\(problems)"
    }

    static func escape(_ bytes: [UInt8]) -> String {
        var s = ""
        for b in bytes {
            switch b {
            case 13: s += "\\r"
            case 10: s += "\\n"
            case 0: s += "\\0"
            case 32...126: s.unicodeScalars.append(Unicode.Scalar(b))
            default: s += "\\x\(String(b, radix: 16))"
            }
        }
        return s
    }

    /// Cut points: `[]` = all at once.
    static func cuts(_ count: Int, mode: SplitMode) -> [Int] {
        switch mode {
        case .whole: return []
        case .byteByByte: return count > 1 ? Array(1..<count) : []
        case .random(let seed):
            var rng = SplitMix64(seed: seed)
            var cuts = Set<Int>()
            let k = count < 2 ? 0 : Int.random(in: 1...max(1, count / 3), using: &rng)
            for _ in 0..<k { cuts.insert(Int.random(in: 1..<count, using: &rng)) }
            return cuts.sorted()
        }
    }

    enum SplitMode: Equatable {
        case whole, byteByByte, random(UInt64)
    }

    /// Feeds `input` cut at `cuts` to `step`; stops at the end of data.
    static func run<C>(
        _ codec: inout C, _ input: [UInt8], cuts: [Int], maxHeld: Int = 2,
        step: (inout C, UnsafeRawBufferPointer) -> DataScanResult
    ) -> BodyCodecRun {
        var out = BodyCodecRun()
        let bounds = [0] + cuts + [input.count]
        var violationSeen = false
        input.withUnsafeBytes { all in
            chunks: for c in 0..<(bounds.count - 1) {
                var offset = bounds[c]
                let end = bounds[c + 1]
                var calls = 0
                while offset < end {
                    calls += 1
                    if calls > 2 * (end - bounds[c]) + 4 {
                        out.problems.append("no progress at \(offset)")
                        break chunks
                    }
                    let chunk = UnsafeRawBufferPointer(rebasing: all[offset..<end])
                    let r = step(&codec, chunk)
                    if r.consumed < 0 || r.consumed > chunk.count {
                        out.problems.append("consumed \(r.consumed) of \(chunk.count)")
                    }
                    if r.forward.lowerBound < 0 || r.forward.upperBound > r.consumed {
                        out.problems.append("forward \(r.forward) outside consumed \(r.consumed)")
                    }
                    if r.prefix.count > 3 { out.problems.append("prefix too long \(r.prefix)") }
                    if violationSeen && (!r.prefix.isEmpty || !r.forward.isEmpty) {
                        out.problems.append("forwarded after a violation")
                    }
                    out.forwarded += r.forwardedBytes(from: chunk)
                    if r.violation != nil { violationSeen = true }
                    out.violation = r.violation
                    offset += r.consumed
                    out.consumed = offset
                    if r.ended {
                        out.ended = true
                        break chunks
                    }
                    if r.consumed == 0 {
                        out.problems.append("consumed nothing at \(offset)")
                        break chunks
                    }
                }
                // Hold back at most `maxHeld` undecided bytes.
                if !violationSeen && out.forwarded.count + maxHeld < offset {
                    out.problems.append("held back \(offset - out.forwarded.count) bytes at \(offset)")
                }
            }
        }
        return out
    }
}
