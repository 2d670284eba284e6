import Glibc
import Testing
@testable import UringRelay

@Suite struct RTSPOutputQueueTests {
    /// Concatenates what a msghdr points at.
    private func gather(_ m: UnsafeMutablePointer<msghdr>) -> [UInt8] {
        var out: [UInt8] = []
        for i in 0..<Int(m.pointee.msg_iovlen) {
            let v = m.pointee.msg_iov[i]
            out += UnsafeRawBufferPointer(start: v.iov_base, count: v.iov_len)
        }
        return out
    }

    private func packet(_ arena: PacketArena, _ bytes: [UInt8]) -> PacketArena.Ref {
        let r = arena.allocate(length: bytes.count)!
        bytes.withUnsafeBytes { arena.bytes(r).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return r
    }

    @Test func framesEachPacketWithItsChannelAndLength() {
        let arena = PacketArena(byteCapacity: 1 << 17, packetCapacity: 64)
        let q = RTSPOutputQueue(entryCapacity: 16, maxQueuedBytes: 1 << 16)
        let reply = packet(arena, Array("RTSP/1.0 200 OK\r\n\r\n".utf8))
        let rtp = packet(arena, [UInt8](repeating: 7, count: 2301))
        #expect(q.enqueue(reply, arena: arena, channel: nil))
        #expect(q.enqueue(rtp, arena: arena, channel: 2))
        arena.release(reply)
        arena.release(rtp)
        let (m, bytes) = q.messageForSend(arena: arena)!
        let wire = gather(m)
        #expect(bytes == wire.count && wire.count == 19 + 4 + 2301)
        #expect(Array(wire[19..<23]) == [0x24, 2, 0x08, 0xFD])
        #expect(q.messageForSend(arena: arena) == nil)  // one send at a time
        q.completeSend(sentBytes: bytes, arena: arena)
        #expect(q.isEmpty && arena.liveCount == 0)
    }

    @Test func aPartialSendResumesMidPrefixAndMidPacket() {
        let arena = PacketArena(byteCapacity: 1 << 17, packetCapacity: 64)
        let q = RTSPOutputQueue(entryCapacity: 16, maxQueuedBytes: 1 << 16)
        let payloads = (0..<3).map { i in [UInt8](repeating: UInt8(i + 1), count: 10) }
        for (i, p) in payloads.enumerated() {
            let r = packet(arena, p)
            #expect(q.enqueue(r, arena: arena, channel: UInt8(i)))
            arena.release(r)
        }
        let expected: [UInt8] = payloads.enumerated().flatMap { i, p -> [UInt8] in [0x24, UInt8(i), 0, 10] + p }
        var received: [UInt8] = []
        for chunk in [2, 13, 1, 100] {
            guard let (m, _) = q.messageForSend(arena: arena) else { break }
            let wire = gather(m)
            let n = min(chunk, wire.count)
            received += wire[..<n]
            q.completeSend(sentBytes: n, arena: arena)
        }
        #expect(received == expected)
        #expect(q.isEmpty && arena.liveCount == 0)
    }

    @Test func refusesBeyondItsBoundsWithoutTakingAReference() {
        let arena = PacketArena(byteCapacity: 1 << 17, packetCapacity: 64)
        let q = RTSPOutputQueue(entryCapacity: 4, maxQueuedBytes: 250)
        let r = packet(arena, [UInt8](repeating: 0, count: 100))
        #expect(q.enqueue(r, arena: arena, channel: 0))
        #expect(q.enqueue(r, arena: arena, channel: 0))
        #expect(!q.enqueue(r, arena: arena, channel: 0))  // 312 bytes > 250
        #expect(arena.referenceCount(r) == 3)
        q.removeAll(arena: arena)
        #expect(arena.referenceCount(r) == 1)
        arena.release(r)
    }
}
