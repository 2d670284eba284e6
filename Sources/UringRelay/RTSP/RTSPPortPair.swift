/// A `first[-second]` pair from a Transport header: client_port, server_port, interleaved.
/// `second` is nil for a single value (`client_port=14186`), which cameras do send.
public struct RTSPPortPair: Equatable, Sendable {
    public var first: Int
    public var second: Int?

    public init(first: Int, second: Int? = nil) {
        self.first = first
        self.second = second
    }

    public init(_ first: Int, _ second: Int?) {
        self.init(first: first, second: second)
    }

    /// `a-b` or `a`, each 0…`maximum` (65535 for ports, 255 for interleaved channels);
    /// spaces around the numbers are tolerated. nil for anything else.
    public static func parse(_ text: some StringProtocol, maximum: Int) -> RTSPPortPair? {
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let a = number(parts[0], maximum: maximum) else { return nil }
        if parts.count == 1 { return RTSPPortPair(first: a) }
        guard let b = number(parts[1], maximum: maximum) else { return nil }
        return RTSPPortPair(first: a, second: b)
    }

    public var serialized: String {
        if let second { return "\(first)-\(second)" }
        return "\(first)"
    }

    static func number(_ s: some StringProtocol, maximum: Int) -> Int? {
        let t = RTSPTransport.trim(s)
        guard !t.isEmpty, t.utf8.count <= 6, t.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = Int(t), v <= maximum else {
            return nil
        }
        return v
    }
}
