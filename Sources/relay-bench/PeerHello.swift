/// The 16 bytes every measured connection sends first, so one upstream port can serve every
/// workload: magic "RBENCH01", mode, run id (u16), connection id (u32), little-endian.
/// Connections that close without a hello (the relay readiness probe) are ignored.
struct PeerHello: Equatable {
    enum Mode: UInt16 {
        /// Read and verify a StreamPattern stream until EOF, then close.
        case sink = 1
        /// Send every byte back.
        case echo = 2
    }

    static let size = 16
    static let magic: [UInt8] = Array("RBENCH01".utf8)

    var mode: Mode
    var run: UInt16
    var connection: UInt32

    var bytes: [UInt8] {
        var b = Self.magic
        b += [UInt8(mode.rawValue & 0xFF), UInt8(mode.rawValue >> 8)]
        b += [UInt8(run & 0xFF), UInt8(run >> 8)]
        for i in 0..<4 { b.append(UInt8(truncatingIfNeeded: connection >> (8 * UInt32(i)))) }
        return b
    }

    /// nil if the bytes are not a hello.
    init?(_ b: [UInt8]) {
        guard b.count == Self.size, Array(b[0..<8]) == Self.magic,
              let mode = Mode(rawValue: UInt16(b[8]) | UInt16(b[9]) << 8) else { return nil }
        self.mode = mode
        self.run = UInt16(b[10]) | UInt16(b[11]) << 8
        var c: UInt32 = 0
        for i in 0..<4 { c |= UInt32(b[12 + i]) << (8 * UInt32(i)) }
        self.connection = c
    }

    init(mode: Mode, run: UInt16, connection: UInt32) {
        self.mode = mode
        self.run = run
        self.connection = connection
    }
}
