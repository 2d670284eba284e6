import Glibc

/// A request of the request/response workload (128 bytes unless the plan says otherwise):
/// connection id (u32) and per-connection sequence number (u64), little-endian, then filler
/// derived from both, so a reply can be checked byte for byte against the request it answers.
enum RequestMessage {
    static let defaultSize = 128
    /// The id and sequence number need this much.
    static let minimumSize = 12

    static func fill(_ p: UnsafeMutableRawPointer, connection c: UInt32, sequence j: UInt64, size: Int) {
        let b = p.assumingMemoryBound(to: UInt8.self)
        for i in 0..<4 { b[i] = UInt8(truncatingIfNeeded: c >> (8 * UInt32(i))) }
        for i in 0..<8 { b[4 + i] = UInt8(truncatingIfNeeded: j >> (8 * UInt64(i))) }
        var x = (UInt64(c) << 40) ^ j ^ 0xA076_1D64_78BD_642F
        for i in 12..<size {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            b[i] = UInt8(truncatingIfNeeded: x >> 33)
        }
    }
}
