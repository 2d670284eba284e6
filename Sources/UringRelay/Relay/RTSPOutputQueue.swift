import Glibc

/// What waits to be written to one RTSP TCP connection: replies and interleaved RTP/RTCP
/// frames, in order, each an arena packet (replies are written into the arena too, so there
/// is one kind of entry). Interleaved frames carry their 4-byte `$`, channel, length prefix in
/// the entry itself: readers of one packet may use different channels, the packet bytes are
/// shared.
///
/// Bounded twice: `entryCapacity` entries and `maxQueuedBytes` bytes. A full queue refuses the
/// entry (`enqueue` returns false) and the caller drops the reader: a reader that cannot keep
/// up must not hold the arena or grow memory. One send at a time: `messageForSend` gathers the
/// front of the queue into the connection's own msghdr (stable until `completeSend`).
final class RTSPOutputQueue {
    private struct Entry {
        var ref: PacketArena.Ref
        var prefixLength: UInt8
        var prefix: (UInt8, UInt8, UInt8, UInt8)
    }

    let entryCapacity: Int
    let maxQueuedBytes: Int
    private let entries: UnsafeMutablePointer<Entry>
    private var head = 0
    private(set) var count = 0
    /// Bytes queued, prefixes included, the part of the front entry already sent excluded.
    private(set) var queuedBytes = 0
    /// Bytes of the front entry already sent (a partial send).
    private var frontSent = 0

    static let maxIovecs = 128
    private let message: UnsafeMutablePointer<msghdr>
    private let iovecs: UnsafeMutablePointer<iovec>
    /// Entries the send in flight covers (completed ones are released at `completeSend`).
    private(set) var sendInFlight = false

    init(entryCapacity: Int, maxQueuedBytes: Int) {
        self.entryCapacity = entryCapacity
        self.maxQueuedBytes = maxQueuedBytes
        entries = .allocate(capacity: entryCapacity)
        message = .allocate(capacity: 1)
        message.initialize(to: msghdr())
        iovecs = .allocate(capacity: Self.maxIovecs)
    }

    deinit {
        entries.deallocate()
        message.deallocate()
        iovecs.deallocate()
    }

    var isEmpty: Bool { count == 0 }

    /// Queues `ref` (taking one reference on success), with an interleaved prefix for
    /// `channel` when given. False when the queue is full: nothing was taken.
    func enqueue(_ ref: PacketArena.Ref, arena: PacketArena, channel: UInt8?) -> Bool {
        let length = arena.length(ref)
        let total = length + (channel == nil ? 0 : 4)
        guard count < entryCapacity, queuedBytes + total <= maxQueuedBytes else { return false }
        var e = Entry(ref: ref, prefixLength: 0, prefix: (0, 0, 0, 0))
        if let channel {
            e.prefixLength = 4
            e.prefix = (0x24, channel, UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length))
        }
        entries[(head + count) % entryCapacity] = e
        count += 1
        queuedBytes += total
        arena.retain(ref)
        return true
    }

    /// A msghdr over the front of the queue (at most `maxIovecs` iovecs), or nil when empty or
    /// a send is already in flight.
    func messageForSend(arena: PacketArena) -> (message: UnsafeMutablePointer<msghdr>, bytes: Int)? {
        guard count > 0, !sendInFlight else { return nil }
        var n = 0
        var bytes = 0
        var skip = frontSent
        var i = 0
        while i < count && n + 2 <= Self.maxIovecs {
            let slot = (head + i) % entryCapacity
            let prefixLength = Int(entries[slot].prefixLength)
            if prefixLength > 0 && skip < prefixLength {
                withUnsafeMutableBytes(of: &entries[slot].prefix) { p in
                    iovecs[n] = iovec(iov_base: p.baseAddress! + skip, iov_len: prefixLength - skip)
                }
                bytes += prefixLength - skip
                n += 1
                skip = 0
            } else {
                skip -= prefixLength
            }
            let ref = entries[slot].ref
            let length = arena.length(ref)
            if length > skip {
                iovecs[n] = iovec(iov_base: arena.bytes(ref) + skip, iov_len: length - skip)
                bytes += length - skip
                n += 1
            }
            skip = 0
            i += 1
        }
        message.pointee = msghdr()
        message.pointee.msg_iov = iovecs
        message.pointee.msg_iovlen = n
        sendInFlight = true
        return (message, bytes)
    }

    /// The send finished having written `sentBytes` (≥ 0): whole entries are released.
    func completeSend(sentBytes: Int, arena: PacketArena) {
        sendInFlight = false
        var left = sentBytes
        queuedBytes -= sentBytes
        while left > 0 && count > 0 {
            let e = entries[head]
            let size = Int(e.prefixLength) + arena.length(e.ref) - frontSent
            if left >= size {
                left -= size
                frontSent = 0
                arena.release(e.ref)
                head = (head + 1) % entryCapacity
                count -= 1
            } else {
                frontSent += left
                left = 0
            }
        }
    }

    /// Whether the front entry is partly written: cutting the queue there would break the
    /// framing of the stream, so a dropped reader is closed rather than trimmed.
    var frontIsPartlySent: Bool { frontSent > 0 }

    /// Releases everything (the connection is closing; no send may be in flight).
    func removeAll(arena: PacketArena) {
        while count > 0 {
            arena.release(entries[head].ref)
            head = (head + 1) % entryCapacity
            count -= 1
        }
        queuedBytes = 0
        frontSent = 0
    }
}
