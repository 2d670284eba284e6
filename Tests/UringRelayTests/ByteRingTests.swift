import Glibc
import Testing
@testable import UringRelay

@Suite struct ByteRingTests {
    /// What the prepared msghdr points at, in order.
    func sendable(_ ring: ByteRing) -> [UInt8] {
        guard let send = ring.messageForSend() else { return [] }
        var out: [UInt8] = []
        for i in 0..<send.message.pointee.msg_iovlen {
            let v = send.message.pointee.msg_iov[i]
            out += UnsafeRawBufferPointer(start: v.iov_base, count: v.iov_len)
        }
        #expect(out.count == send.bytes)
        return out
    }

    @Test func fifoAcrossTheWrapWithTwoIovecs() {
        let ring = ByteRing(capacity: 8)
        #expect(ring.messageForSend() == nil)
        #expect(ring.append(Array("abcdef".utf8)))
        ring.consume(4)  // "ef" left at offsets 4...5
        #expect(ring.append(Array("ghijkl".utf8)), "6 free bytes, wrapping")
        #expect(ring.freeBytes == 0)
        #expect(ring.messageForSend()?.message.pointee.msg_iovlen == 2)
        #expect(sendable(ring) == Array("efghijkl".utf8))
        ring.consume(3)
        #expect(sendable(ring) == Array("hijkl".utf8))
        ring.consume(5)
        #expect(ring.isEmpty)
    }

    @Test func appendIsAllOrNothing() {
        let ring = ByteRing(capacity: 4)
        #expect(ring.append(Array("abc".utf8)))
        #expect(!ring.append(Array("de".utf8)))
        #expect(ring.count == 3)
        #expect(sendable(ring) == Array("abc".utf8))
    }

    @Test func appendsDuringASendLeaveTheSentBytesAlone() {
        let ring = ByteRing(capacity: 16)
        ring.append(Array("first".utf8))
        let inFlight = ring.messageForSend()!
        let base = inFlight.message.pointee.msg_iov[0].iov_base!
        ring.append(Array("second".utf8))
        #expect(Array(UnsafeRawBufferPointer(start: base, count: 5)) == Array("first".utf8))
        ring.consume(5)
        #expect(sendable(ring) == Array("second".utf8))
    }
}
