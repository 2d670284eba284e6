/// Builds the receiver report a relay sends its source (RFC 3550 §6.4.2): some cameras stop
/// streaming to a client that never reports.
public enum RTCPReceiverReport {
    /// One RR with one report block about `sourceSSRC`, 32 bytes.
    public static func build(reporterSSRC: UInt32, sourceSSRC: UInt32, fractionLost: UInt8, cumulativeLost: Int,
                             extendedHighestSequence: UInt32, jitter: UInt32, lastSenderReport: UInt32,
                             delaySinceLastSenderReport: UInt32) -> [UInt8] {
        var b: [UInt8] = [0x81, 201, 0, 7]
        func put32(_ v: UInt32) { b += [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }
        put32(reporterSSRC)
        put32(sourceSSRC)
        // Cumulative lost is a signed 24-bit field: clamp rather than wrap.
        let lost = UInt32(bitPattern: Int32(max(-0x80_0000, min(0x7F_FFFF, cumulativeLost)))) & 0xFF_FFFF
        put32(UInt32(fractionLost) << 24 | lost)
        put32(extendedHighestSequence)
        put32(jitter)
        put32(lastSenderReport)
        put32(delaySinceLastSenderReport)
        return b
    }
}
