/// Counts the `Received:` fields of a message's header section as its body streams through
/// (RFC 5321 §6.3: a relay must detect loops; Postfix's hopcount_limit does the same). Pure and
/// incremental: fed the body in any pieces, it looks at line starts only until the empty line
/// that ends the header section, then ignores the rest at no cost.
public struct ReceivedHopCounter: Sendable, Equatable {
    public private(set) var hops = 0
    /// The header section has ended (an empty line): nothing more is counted.
    public private(set) var headerEnded = false

    private static let field = Array("received:".utf8)
    /// Where in the current line we are: 0 at its start, then how much of "received:" matched;
    /// -1 once the line cannot be a Received field (rest of it skipped).
    private var matched = 0
    private var sawCR = false
    private var lineIsEmpty = true

    public init() {}

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard !headerEnded else { return }
        for b in bytes {
            if b == 0x0A {
                if lineIsEmpty {
                    headerEnded = true
                    return
                }
                matched = 0
                lineIsEmpty = true
                sawCR = false
                continue
            }
            if b == 0x0D {
                sawCR = true
                continue
            }
            lineIsEmpty = false
            guard matched >= 0 else { continue }
            if matched < Self.field.count {
                let lower = b >= 0x41 && b <= 0x5A ? b | 0x20 : b
                if lower == Self.field[matched] {
                    matched += 1
                    if matched == Self.field.count {
                        hops += 1
                        matched = -1
                    }
                } else {
                    matched = -1
                }
            }
        }
    }

    public mutating func feed(_ bytes: [UInt8]) { bytes.withUnsafeBytes { feed($0) } }
}
