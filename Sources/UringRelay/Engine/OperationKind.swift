/// What an operation was, stored in the top 8 bits of its 64-bit `user_data`.
///
/// Layout of `user_data` (both engines use it, so completions look the same):
///
///     bits 63...56  OperationKind (this enum)
///     bits 55...0   tag, chosen by the relay; the engine never interprets it
///
/// The relay packs (slot index, generation, side) into its tag so a completion finds
/// its connection without any allocation or lookup table (see `RelayTag`).
public enum OperationKind: UInt8, Sendable {
    case accept = 1
    case connect = 2
    case receive = 3
    case send = 4
    case shutdown = 5
    case close = 6
    case cancel = 7
    case timeout = 8
    /// The worker's own eventfd, written by another thread to wake the loop.
    case wake = 9
    /// A write to a regular file at an offset (the SMTP spool).
    case fileWrite = 10
    /// fsync/fdatasync of a file or directory (the spool's durability points).
    case fileSync = 11

    @inline(__always)
    public func userData(tag: UInt64) -> UInt64 {
        (UInt64(rawValue) << 56) | (tag & UserData.tagMask)
    }
}

public enum UserData {
    public static let tagMask: UInt64 = (1 << 56) - 1
}
