import Glibc

/// Reference-counted packets for a fan-out to stream readers: one preallocated byte ring and
/// one ring of packet descriptors, both allocated once.
///
/// A packet is written once (the one copy on its way through) and then referenced by every
/// reader queue, the keyframe cache and UDP sends in flight; each holds a reference and gives
/// it back when done. Space is reclaimed in arrival order: the oldest packet frees its bytes
/// once nobody holds it. That suits a live stream, where every holder consumes in order; a
/// holder that stops consuming pins the oldest packet, `allocate` then fails, and the caller
/// decides whom to drop (the slowest reader), so the arena never grows.
final class PacketArena {
    /// A packet's descriptor index.
    typealias Ref = Int32

    let byteCapacity: Int
    let packetCapacity: Int
    private let storage: UnsafeMutableRawPointer
    private let offsets: UnsafeMutablePointer<Int32>
    private let lengths: UnsafeMutablePointer<Int32>
    private let references: UnsafeMutablePointer<Int32>

    // Descriptors in use: [headSlot, headSlot + liveCount) modulo packetCapacity.
    private var headSlot = 0
    private(set) var liveCount = 0
    // Bytes: the oldest live packet starts at headByte, the next one goes at tailByte. With
    // packets of at least one byte, tailByte > headByte means [headByte, tailByte) is live and
    // tailByte < headByte means the live bytes wrapped: [headByte, end) and [0, tailByte).
    private var headByte = 0
    private var tailByte = 0

    /// Bytes held by live packets (with the unused end skipped at a wrap).
    var bytesInUse: Int {
        if liveCount == 0 { return 0 }
        return tailByte > headByte ? tailByte - headByte : byteCapacity - headByte + tailByte
    }

    init(byteCapacity: Int, packetCapacity: Int) {
        precondition(byteCapacity >= 1 << 16 + 8 && packetCapacity > 0 && packetCapacity < Int(Int32.max))
        self.byteCapacity = byteCapacity
        self.packetCapacity = packetCapacity
        storage = .allocate(byteCount: byteCapacity, alignment: 64)
        offsets = .allocate(capacity: packetCapacity)
        lengths = .allocate(capacity: packetCapacity)
        references = .allocate(capacity: packetCapacity)
        references.initialize(repeating: 0, count: packetCapacity)
    }

    deinit {
        storage.deallocate()
        offsets.deallocate()
        lengths.deallocate()
        references.deallocate()
    }

    /// Room for `length` (≥ 1) bytes, referenced once by the caller; nil when full.
    func allocate(length: Int) -> Ref? {
        precondition(length >= 1 && length <= 1 << 16 + 8)
        guard liveCount < packetCapacity else { return nil }
        let offset: Int
        if liveCount == 0 {
            headByte = 0
            offset = 0
        } else if tailByte > headByte {
            if byteCapacity - tailByte >= length {
                offset = tailByte
            } else if headByte > length {
                offset = 0  // wrap; the end of the ring stays unused until the head wraps too
            } else {
                return nil
            }
        } else {
            guard headByte - tailByte > length else { return nil }
            offset = tailByte
        }
        let slot = (headSlot + liveCount) % packetCapacity
        offsets[slot] = Int32(offset)
        lengths[slot] = Int32(length)
        references[slot] = 1
        liveCount += 1
        tailByte = offset + length
        return Ref(slot)
    }

    @inline(__always)
    func bytes(_ ref: Ref) -> UnsafeMutableRawPointer { storage + Int(offsets[Int(ref)]) }

    @inline(__always)
    func length(_ ref: Ref) -> Int { Int(lengths[Int(ref)]) }

    /// Shortens the packet just allocated (the newest) to what was really written (≥ 1).
    func shrinkNewest(_ ref: Ref, to length: Int) {
        let slot = Int(ref)
        precondition(slot == (headSlot + liveCount - 1) % packetCapacity && length >= 1 && length <= lengths[slot])
        lengths[slot] = Int32(length)
        tailByte = Int(offsets[slot]) + length
    }

    @inline(__always)
    func retain(_ ref: Ref) { references[Int(ref)] += 1 }

    func release(_ ref: Ref) {
        let slot = Int(ref)
        precondition(references[slot] > 0, "packet released more often than referenced")
        references[slot] -= 1
        guard slot == headSlot else { return }
        while liveCount > 0 && references[headSlot] == 0 {
            headSlot = (headSlot + 1) % packetCapacity
            liveCount -= 1
        }
        if liveCount == 0 {
            headByte = 0
            tailByte = 0
        } else {
            headByte = Int(offsets[headSlot])
        }
    }

    /// The oldest live packet: whoever holds it is what keeps the arena from reclaiming.
    var oldest: Ref? { liveCount > 0 ? Ref(headSlot) : nil }

    func referenceCount(_ ref: Ref) -> Int { Int(references[Int(ref)]) }
}
