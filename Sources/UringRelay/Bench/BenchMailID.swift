/// Which message a body is, carried in the header `X-Bench-Id: RRRRR-SSSSSS-QQQQQQQQQQ`
/// (run, session, sequence number within the session). The value has a fixed width so every
/// message of a run has the same size and the load generator can patch the id into a copy of
/// the message head without moving anything.
public struct BenchMailID: Hashable, Sendable, CustomStringConvertible {
    public var run: UInt16
    public var session: UInt32
    public var sequence: UInt32

    public static let headerName = "X-Bench-Id"
    static let runDigits = 5
    static let sessionDigits = 6
    static let sequenceDigits = 10
    /// Octets of the header value.
    public static let valueWidth = runDigits + 1 + sessionDigits + 1 + sequenceDigits
    /// Sessions are numbered below this (six digits).
    public static let sessionLimit: UInt32 = 1_000_000

    public init(run: UInt16, session: UInt32, sequence: UInt32) {
        precondition(session < Self.sessionLimit, "session number over six digits")
        self.run = run
        self.session = session
        self.sequence = sequence
    }

    /// Parses a header value (surrounding spaces and tabs allowed); nil unless it is exactly
    /// the fixed-width form.
    public init?(headerValue: some Collection<UInt8>) {
        var bytes = Array(headerValue)
        while let f = bytes.first, f == 32 || f == 9 { bytes.removeFirst() }
        while let l = bytes.last, l == 32 || l == 9 { bytes.removeLast() }
        guard bytes.count == Self.valueWidth,
              bytes[Self.runDigits] == 45, bytes[Self.runDigits + 1 + Self.sessionDigits] == 45
        else { return nil }
        func number(_ from: Int, _ count: Int) -> UInt64? {
            var v: UInt64 = 0
            for b in bytes[from..<(from + count)] {
                guard b >= 48 && b <= 57 else { return nil }
                v = v * 10 + UInt64(b - 48)
            }
            return v
        }
        guard let r = number(0, Self.runDigits), r <= UInt64(UInt16.max),
              let s = number(Self.runDigits + 1, Self.sessionDigits),
              let q = number(Self.runDigits + 1 + Self.sessionDigits + 1, Self.sequenceDigits),
              q <= UInt64(UInt32.max)
        else { return nil }
        run = UInt16(r)
        session = UInt32(s)
        sequence = UInt32(q)
    }

    /// Writes the `valueWidth` octets of the header value at `p`.
    public func write(into p: UnsafeMutableRawPointer) {
        let b = p.assumingMemoryBound(to: UInt8.self)
        func digits(_ value: UInt64, _ at: Int, _ count: Int) {
            var v = value
            for i in stride(from: at + count - 1, through: at, by: -1) {
                b[i] = UInt8(48 + v % 10)
                v /= 10
            }
        }
        digits(UInt64(run), 0, Self.runDigits)
        b[Self.runDigits] = 45
        digits(UInt64(session), Self.runDigits + 1, Self.sessionDigits)
        b[Self.runDigits + 1 + Self.sessionDigits] = 45
        digits(UInt64(sequence), Self.runDigits + 1 + Self.sessionDigits + 1, Self.sequenceDigits)
    }

    /// The header value as bytes.
    public var headerValue: [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.valueWidth)
        out.withUnsafeMutableBytes { write(into: $0.baseAddress!) }
        return out
    }

    public var description: String { String(decoding: headerValue, as: UTF8.self) }
}
