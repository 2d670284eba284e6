import Testing
@testable import UringRelay

@Suite struct PacketArenaTests {
    @Test func packetsKeepTheirBytesUntilReleased() {
        let arena = PacketArena(byteCapacity: 1 << 17, packetCapacity: 64)
        var refs: [PacketArena.Ref] = []
        for i in 0..<10 {
            let r = arena.allocate(length: 100 + i)!
            arena.bytes(r).initializeMemory(as: UInt8.self, repeating: UInt8(i), count: 100 + i)
            refs.append(r)
        }
        for (i, r) in refs.enumerated() {
            #expect(arena.length(r) == 100 + i)
            #expect(UnsafeRawBufferPointer(start: arena.bytes(r), count: arena.length(r)).allSatisfy { $0 == UInt8(i) })
        }
        #expect(arena.bytesInUse == (0..<10).reduce(0) { $0 + 100 + $1 })
        for r in refs { arena.release(r) }
        #expect(arena.liveCount == 0 && arena.bytesInUse == 0)
    }

    @Test func aHeldOldestPacketStopsReclaimAndAllocationFailsInsteadOfGrowing() {
        let arena = PacketArena(byteCapacity: 1 << 17, packetCapacity: 1024)
        let oldest = arena.allocate(length: 1000)!
        arena.retain(oldest)  // a slow reader
        arena.release(oldest)
        var allocated = 0
        while let r = arena.allocate(length: 1000) {
            arena.release(r)  // everyone else consumed it at once
            allocated += 1
            if allocated > 10_000 { break }
        }
        // Freed packets behind the held one cannot be reused: the ring is FIFO.
        #expect(allocated > 100 && allocated < 140)
        #expect(arena.allocate(length: 1000) == nil)
        arena.release(oldest)
        #expect(arena.liveCount == 0)
        #expect(arena.allocate(length: 1000) != nil)
    }

    @Test func wrapsAroundAndNeverOverlapsLivePackets() {
        // Random sizes and lifetimes: live packets are checked for their own pattern at the end
        // of every step, so an overlap shows up as a corrupted byte.
        var rng = SplitMix64(seed: 7)
        let arena = PacketArena(byteCapacity: 1 << 17, packetCapacity: 256)
        var live: [(PacketArena.Ref, UInt8)] = []
        var failures = 0
        for step in 0..<20_000 {
            if live.count < 200 && rng.next() % 3 != 0 {
                let length = 1 + Int(rng.next() % 3000)
                if let r = arena.allocate(length: length) {
                    let mark = UInt8(truncatingIfNeeded: step)
                    arena.bytes(r).initializeMemory(as: UInt8.self, repeating: mark, count: length)
                    live.append((r, mark))
                } else {
                    failures += 1
                }
            } else if !live.isEmpty {
                // Mostly in order, like readers; sometimes out of order.
                let i = rng.next() % 5 == 0 ? Int(rng.next() % UInt64(live.count)) : 0
                arena.release(live.remove(at: i).0)
            }
            if step % 97 == 0 {
                for (r, mark) in live {
                    #expect(UnsafeRawBufferPointer(start: arena.bytes(r), count: arena.length(r)).allSatisfy { $0 == mark })
                }
                #expect(arena.bytesInUse <= arena.byteCapacity)
            }
        }
        for (r, _) in live { arena.release(r) }
        #expect(arena.liveCount == 0)
        #expect(failures < 20_000)
    }

    @Test func shrinkingTheNewestReturnsItsTail() {
        let arena = PacketArena(byteCapacity: 1 << 17, packetCapacity: 8)
        let r = arena.allocate(length: 5000)!
        arena.shrinkNewest(r, to: 100)
        #expect(arena.length(r) == 100 && arena.bytesInUse == 100)
        let next = arena.allocate(length: 10)!
        #expect(arena.bytes(next) == arena.bytes(r) + 100)
    }
}
