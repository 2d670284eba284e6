/// The bytes a bulk connection sends: a pseudo-random sequence of period `period` starting at a
/// per-connection offset. The sink compares what arrives against the same sequence with memcmp,
/// so every byte is verified (not a checksum) at memory speed. Since the sequence is fully
/// determined by the stream offset, "same length and every byte matches" means the sink received
/// exactly the sent stream.
final class StreamPattern: @unchecked Sendable {
    // @unchecked: `storage` is written only in init and read-only afterwards.
    /// Period of the sequence (not a multiple of the 64 KiB write size, so writes do not line up).
    static let period = (1 << 20) + 4099
    /// Longest contiguous run `bytes(at:count:)` serves.
    static let maxRun = 1 << 18

    /// period + maxRun bytes: the sequence, then its first maxRun bytes again, so any run of up
    /// to maxRun starting below `period` is contiguous.
    let storage: UnsafeMutableBufferPointer<UInt8>

    init() {
        storage = .allocate(capacity: Self.period + Self.maxRun)
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<Self.period {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17  // xorshift64
            storage[i] = UInt8(truncatingIfNeeded: x >> 24)
        }
        for i in 0..<Self.maxRun { storage[Self.period + i] = storage[i] }
    }

    deinit { storage.deallocate() }

    /// Where connection `id`'s stream starts in the sequence.
    static func startOffset(connection id: UInt32) -> Int {
        Int((UInt64(id) &* 104_729 &+ 7) % UInt64(period))
    }

    /// Pointer to the stream bytes at absolute stream position `position` of connection `id`;
    /// valid for `maxRun` bytes.
    func pointer(connection id: UInt32, position: UInt64) -> UnsafePointer<UInt8> {
        let off = Int((UInt64(Self.startOffset(connection: id)) &+ position) % UInt64(Self.period))
        return UnsafePointer(storage.baseAddress! + off)
    }
}
