import Glibc

/// Fixed slots for UDP sends to readers: each holds the msghdr, iovec and destination one
/// `sendDatagram` needs until it completes, and the arena packet it references. When every
/// slot is busy the packet is not sent to that reader (UDP: a loss, never a wait).
final class RTSPDatagramSlots {
    let capacity: Int
    private let messages: UnsafeMutablePointer<msghdr>
    private let iovecs: UnsafeMutablePointer<iovec>
    private let names: UnsafeMutablePointer<sockaddr_storage>
    private let refs: UnsafeMutablePointer<PacketArena.Ref>
    private var free: [Int32]

    init(capacity: Int) {
        self.capacity = capacity
        messages = .allocate(capacity: capacity)
        messages.initialize(repeating: msghdr(), count: capacity)
        iovecs = .allocate(capacity: capacity)
        names = .allocate(capacity: capacity)
        refs = .allocate(capacity: capacity)
        free = (0..<Int32(capacity)).reversed().map { $0 }
    }

    deinit {
        messages.deallocate()
        iovecs.deallocate()
        names.deallocate()
        refs.deallocate()
    }

    var inUse: Int { capacity - free.count }

    /// A message for `ref` to `destination` (taking a reference), or nil when all are busy.
    func take(_ ref: PacketArena.Ref, arena: PacketArena, to destination: SocketAddress) -> (slot: Int, message: UnsafeMutablePointer<msghdr>)? {
        guard let s = free.popLast() else { return nil }
        let slot = Int(s)
        arena.retain(ref)
        refs[slot] = ref
        names[slot] = destination.storage
        iovecs[slot] = iovec(iov_base: arena.bytes(ref), iov_len: arena.length(ref))
        messages[slot] = msghdr()
        messages[slot].msg_name = UnsafeMutableRawPointer(names + slot)
        messages[slot].msg_namelen = destination.length
        messages[slot].msg_iov = iovecs + slot
        messages[slot].msg_iovlen = 1
        return (slot, messages + slot)
    }

    /// The send in `slot` completed.
    func complete(_ slot: Int, arena: PacketArena) {
        arena.release(refs[slot])
        free.append(Int32(slot))
    }
}
