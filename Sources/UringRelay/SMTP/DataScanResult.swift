/// What one `DataScanner.scan` or `BDATChunkConverter.convert` call decided about its input.
///
/// The bytes to forward now are `prefix` followed by `input[forward]`, in that order.
/// `prefix` is at most a few bytes: bytes held back from an earlier call and now known to be
/// safe, or bytes the codec inserts (a CR before a normalized LF, a stuffing dot).
///
/// If `consumed < input.count` and `ended` is false, call again with the unconsumed rest:
/// the codec stops early when it must insert bytes after a non-empty span.
public struct DataScanResult: Sendable, Equatable {
    /// Input bytes used by this call. After the end of data, the bytes after `consumed`
    /// (e.g. a pipelined `QUIT\r\n`) belong to the command reader.
    public var consumed: Int
    /// Bytes to forward before `input[forward]`.
    public var prefix: [UInt8]
    /// The span of the input that is safe to forward now.
    public var forward: Range<Int>
    /// The end of the message was reached (DATA: the terminating `.\r\n` was consumed and is
    /// not part of what is forwarded; the caller sends its own `.\r\n` upstream if the message
    /// is accepted).
    public var ended: Bool
    /// Set once the message is refused; nothing further of it is forwarded. The caller must
    /// not terminate the upstream transaction normally (abort it, e.g. close the upstream).
    public var violation: DataViolation?

    public init(
        consumed: Int, prefix: [UInt8] = [], forward: Range<Int>, ended: Bool = false,
        violation: DataViolation? = nil
    ) {
        self.consumed = consumed
        self.prefix = prefix
        self.forward = forward
        self.ended = ended
        self.violation = violation
    }

    /// True when the end was reached and the message is to be accepted (forwarded).
    public var isAccepted: Bool { ended && violation == nil }

    /// `prefix + input[forward]` as one array (convenience; copies).
    public func forwardedBytes(from input: UnsafeRawBufferPointer) -> [UInt8] {
        var out = prefix
        if !forward.isEmpty {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[forward]))
        }
        return out
    }
}
