import Glibc

/// Fixed slots for UDP sends to readers: each holds the msghdr, iovec and destination one
/// `sendDatagram` needs until it completes, and the arena packet it references. A burst larger
/// than the slots (a keyframe to many readers) waits in a bounded FIFO and goes out as sends
/// complete; only beyond that FIFO is a packet lost for its reader (UDP: never a wait for the
/// other readers).
final class RTSPDatagramSlots {
    let capacity: Int
    let backlogCapacity: Int
    private let messages: UnsafeMutablePointer<msghdr>
    private let iovecs: UnsafeMutablePointer<iovec>
    private let names: UnsafeMutablePointer<sockaddr_storage>
    private let refs: UnsafeMutablePointer<PacketArena.Ref>
    private var free: [Int32]

    // Waiting sends, in order: packet, destination, socket.
    private let backlogRefs: UnsafeMutablePointer<PacketArena.Ref>
    private let backlogNames: UnsafeMutablePointer<sockaddr_storage>
    private let backlogNameLengths: UnsafeMutablePointer<socklen_t>
    private let backlogFds: UnsafeMutablePointer<Int32>
    private var backlogHead = 0
    private(set) var backlogCount = 0

    init(capacity: Int, backlogCapacity: Int) {
        self.capacity = capacity
        self.backlogCapacity = backlogCapacity
        messages = .allocate(capacity: capacity)
        messages.initialize(repeating: msghdr(), count: capacity)
        iovecs = .allocate(capacity: capacity)
        names = .allocate(capacity: capacity)
        refs = .allocate(capacity: capacity)
        free = (0..<Int32(capacity)).reversed().map { $0 }
        backlogRefs = .allocate(capacity: backlogCapacity)
        backlogNames = .allocate(capacity: backlogCapacity)
        backlogNameLengths = .allocate(capacity: backlogCapacity)
        backlogFds = .allocate(capacity: backlogCapacity)
    }

    deinit {
        messages.deallocate()
        iovecs.deallocate()
        names.deallocate()
        refs.deallocate()
        backlogRefs.deallocate()
        backlogNames.deallocate()
        backlogNameLengths.deallocate()
        backlogFds.deallocate()
    }

    var inUse: Int { capacity - free.count }

    /// A send of `ref` to `destination` on `fd`: issued now through `issue` when a slot is free
    /// (and nothing waits before it), else queued. False when even the FIFO is full (lost).
    func send(_ ref: PacketArena.Ref, arena: PacketArena, to destination: SocketAddress, fd: Int32,
              issue: (Int32, Int, UnsafeMutablePointer<msghdr>) -> Void) -> Bool {
        if backlogCount == 0, let s = free.popLast() {
            fill(Int(s), ref, arena, destination.storage, destination.length)
            issue(fd, Int(s), messages + Int(s))
            return true
        }
        guard backlogCount < backlogCapacity else { return false }
        let i = (backlogHead + backlogCount) % backlogCapacity
        arena.retain(ref)
        backlogRefs[i] = ref
        backlogNames[i] = destination.storage
        backlogNameLengths[i] = destination.length
        backlogFds[i] = fd
        backlogCount += 1
        return true
    }

    /// The send in `slot` completed; waiting sends take the freed slot.
    func complete(_ slot: Int, arena: PacketArena, issue: (Int32, Int, UnsafeMutablePointer<msghdr>) -> Void) {
        arena.release(refs[slot])
        free.append(Int32(slot))
        while backlogCount > 0, let s = free.popLast() {
            let i = backlogHead
            fill(Int(s), backlogRefs[i], arena, backlogNames[i], backlogNameLengths[i])
            arena.release(backlogRefs[i])  // the slot took its own reference
            backlogHead = (backlogHead + 1) % backlogCapacity
            backlogCount -= 1
            issue(backlogFds[i], Int(s), messages + Int(s))
        }
    }

    /// Drops every waiting send (the relay is stopping).
    func dropBacklog(arena: PacketArena) {
        while backlogCount > 0 {
            arena.release(backlogRefs[backlogHead])
            backlogHead = (backlogHead + 1) % backlogCapacity
            backlogCount -= 1
        }
    }

    private func fill(_ slot: Int, _ ref: PacketArena.Ref, _ arena: PacketArena, _ name: sockaddr_storage, _ length: socklen_t) {
        arena.retain(ref)
        refs[slot] = ref
        names[slot] = name
        iovecs[slot] = iovec(iov_base: arena.bytes(ref), iov_len: arena.length(ref))
        messages[slot] = msghdr()
        messages[slot].msg_name = UnsafeMutableRawPointer(names + slot)
        messages[slot].msg_namelen = length
        messages[slot].msg_iov = iovecs + slot
        messages[slot].msg_iovlen = 1
    }
}
