/// Digest of a mail message's bytes for relay-bench's SMTP sink.
///
/// The same bytes give the same value however they are split into pieces: the sink hashes a
/// body as it streams past (dot-unstuffed, in whatever segments the network delivered) and the
/// load generator compares the value with the one of the message it sent. Not cryptographic —
/// it catches corruption, not forgery. Each 8-byte word is absorbed by xor, a multiply by an odd
/// constant and a rotation, each a bijection of the state, so two streams that differ in exactly
/// one word always end with different states; the length is absorbed last, so zero padding of a
/// final partial word cannot make two lengths collide. Words rather than bytes keep it at a few
/// cycles per 8 bytes: the sink shares its CPU with the load generator.
public struct BenchMailDigest: Sendable, Equatable {
    static let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15  // odd
    private var state: UInt64 = 0x243F_6A88_85A3_08D3
    /// Bytes of an unfinished word, little-endian, `pendingCount` of them.
    private var pending: UInt64 = 0
    private var pendingCount = 0
    /// Bytes added so far.
    public private(set) var octets = 0

    public init() {}

    @inline(__always)
    private mutating func absorb(_ word: UInt64) {
        let x = (state ^ word) &* Self.multiplier
        state = (x << 29) | (x >> 35)
    }

    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0 else { return }
        octets += n
        var i = 0
        if pendingCount > 0 {
            while pendingCount < 8 && i < n {
                pending |= UInt64(bytes[i]) << UInt64(8 * pendingCount)
                pendingCount += 1
                i += 1
            }
            if pendingCount < 8 { return }
            absorb(pending)
            pending = 0
            pendingCount = 0
        }
        while n - i >= 8 {
            absorb(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
            i += 8
        }
        while i < n {
            pending |= UInt64(bytes[i]) << UInt64(8 * pendingCount)
            pendingCount += 1
            i += 1
        }
    }

    public mutating func add(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { add($0) }
    }

    /// The digest of everything added so far (the digest itself can go on being fed).
    public var value: UInt64 {
        var copy = self
        if copy.pendingCount > 0 { copy.absorb(copy.pending) }
        copy.absorb(UInt64(copy.octets))
        // Final avalanche (the 64-bit finaliser of MurmurHash3) so nearby states spread out.
        var h = copy.state
        h ^= h >> 33
        h &*= 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h &*= 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
    }
}
