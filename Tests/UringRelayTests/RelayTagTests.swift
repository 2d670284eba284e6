import Testing
@testable import UringRelay

@Suite struct RelayTagTests {
    @Test(arguments: [
        (UInt32(0), UInt32(0), UInt8(0)),
        (1, 1, 1),
        (0xFF_FFFE, 0xFF_FFFF, 0xFF),
        (RelayTag.controlSlot, 0, 1),
        (12345, 0xAB_CDEF, 7),
    ])
    func roundTripsThroughUserData(slot: UInt32, generation: UInt32, side: UInt8) {
        let tag = RelayTag(slot: slot, generation: generation, side: side)
        for kind in [OperationKind.receive, .send, .accept, .timeout] {
            let c = Completion(userData: kind.userData(tag: tag.raw), result: 0, flags: 0)
            #expect(c.kind == kind)
            #expect(RelayTag(c.tag) == tag)
        }
    }

    @Test func generationWrapsWithin24Bits() {
        let tag = RelayTag(slot: 5, generation: 0x1_000_001, side: 0)
        #expect(tag.generation == 1)
    }

    @Test func completionFlagsCarryBufferIDAndMore() {
        let f = Completion.flags(bufferID: 513, more: true)
        let c = Completion(userData: 0, result: 10, flags: f)
        #expect(c.bufferID == 513)
        #expect(c.hasMore)
        let last = Completion(userData: 0, result: 0, flags: Completion.flags(bufferID: nil, more: false))
        #expect(last.bufferID == nil)
        #expect(!last.hasMore)
    }
}
