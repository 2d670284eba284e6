/// How relays pack a 56-bit operation tag (see `OperationKind` for the full user_data):
///
///     bits 55...32  slot index (24 bits): which connection
///     bits 31...8   generation (24 bits): which use of that slot, so a late completion for a
///                   connection that has since closed is recognised and dropped
///     bits  7...0   side: 0 client, 1 upstream (or a relay-defined sub-id)
///
/// Tags with `slot == RelayTag.controlSlot` are the worker's own (listeners, the tick timer).
public struct RelayTag: Equatable, Sendable {
    public var slot: UInt32
    public var generation: UInt32
    public var side: UInt8

    public static let controlSlot: UInt32 = 0xFF_FFFF
    public static let generationMask: UInt32 = 0xFF_FFFF

    @inline(__always)
    public init(slot: UInt32, generation: UInt32, side: UInt8) {
        self.slot = slot
        self.generation = generation & Self.generationMask
        self.side = side
    }

    @inline(__always)
    public init(_ raw: UInt64) {
        slot = UInt32(truncatingIfNeeded: raw >> 32) & 0xFF_FFFF
        generation = UInt32(truncatingIfNeeded: raw >> 8) & Self.generationMask
        side = UInt8(truncatingIfNeeded: raw)
    }

    @inline(__always)
    public var raw: UInt64 {
        (UInt64(slot & 0xFF_FFFF) << 32) | (UInt64(generation & Self.generationMask) << 8) | UInt64(side)
    }
}
