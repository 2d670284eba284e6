/// The rtp scenario's packets: a valid RTP header (the relay checks it), then
///
///     [12, 20)   intended send time, CLOCK_MONOTONIC ns, little-endian
///     [20, 28)   sequence number of the run (64-bit: the RTP one wraps), little-endian
///     [28, size) filler derived from the sequence, so a receiver can check every byte
///
/// Latency is the receive time minus the intended send time (open loop, so a stall anywhere
/// shows up as latency, not as fewer packets).
enum RTPBenchPacket {
    static let headerBytes = 12
    static let minimumBytes = headerBytes + 16
    /// Dynamic payload type, as an H.264 stream would use.
    static let payloadType: UInt8 = 96
    static let ssrc: UInt32 = 0x5242_4E43

    @inline(__always)
    static func fillerByte(sequence: UInt64, at i: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: sequence &* 131 &+ UInt64(i))
    }

    /// Writes packet `sequence` of `size` bytes into `p`.
    static func write(into p: UnsafeMutableRawPointer, size: Int, sequence: UInt64, intendedNs: UInt64) {
        let rtpSequence = UInt16(truncatingIfNeeded: sequence)
        // 90 kHz clock, one packet per 1/30 s of media: any increasing timestamp will do.
        let timestamp = UInt32(truncatingIfNeeded: sequence &* 3000)
        p.storeBytes(of: 0x80, toByteOffset: 0, as: UInt8.self)
        p.storeBytes(of: payloadType, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: rtpSequence.bigEndian, toByteOffset: 2, as: UInt16.self)
        p.storeBytes(of: timestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
        p.storeBytes(of: ssrc.bigEndian, toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: intendedNs.littleEndian, toByteOffset: 12, as: UInt64.self)
        p.storeBytes(of: sequence.littleEndian, toByteOffset: 20, as: UInt64.self)
        for i in minimumBytes..<size { p.storeBytes(of: fillerByte(sequence: sequence, at: i), toByteOffset: i, as: UInt8.self) }
    }

    /// Sequence and intended send time of a received packet, nil unless every byte is what
    /// `write` produced for that sequence and `size`.
    @inline(__always)
    static func check(_ p: UnsafeRawPointer, count: Int, size: Int) -> (sequence: UInt64, intendedNs: UInt64)? {
        guard count == size, size >= minimumBytes else { return nil }
        let sequence = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 20, as: UInt64.self))
        let intended = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt64.self))
        guard p.load(fromByteOffset: 0, as: UInt8.self) == 0x80,
              p.load(fromByteOffset: 1, as: UInt8.self) == payloadType,
              UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) == UInt16(truncatingIfNeeded: sequence),
              UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) == UInt32(truncatingIfNeeded: sequence &* 3000),
              UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) == ssrc else { return nil }
        for i in minimumBytes..<size where p.load(fromByteOffset: i, as: UInt8.self) != fillerByte(sequence: sequence, at: i) {
            return nil
        }
        return (sequence, intended)
    }
}
