import Testing
@testable import UringRelay

@Suite struct ReceivedHopCounterTests {
    static let message = Array("""
    Received: from a by b; Thu, 3 Dec 2026 10:00:00 +0000\r
    RECEIVED: from c by d;\r
    \tfolded continuation Received: not a field\r
    X-Received: not counted\r
    received:from e\r
    Subject: hello\r
    \r
    Received: in the body, not counted\r

    """.utf8)

    @Test func countsReceivedFieldsOfTheHeaderSectionOnly() {
        var c = ReceivedHopCounter()
        c.feed(Self.message)
        #expect(c.hops == 3 && c.headerEnded)
    }

    @Test(arguments: [1, 2, 3, 7, 64])
    func givesTheSameCountFedInPieces(_ piece: Int) {
        var c = ReceivedHopCounter()
        var i = 0
        while i < Self.message.count {
            c.feed(Array(Self.message[i..<min(Self.message.count, i + piece)]))
            i += piece
        }
        #expect(c.hops == 3)
    }

    @Test func aBodyWithoutHeadersEndsAtOnce() {
        var c = ReceivedHopCounter()
        c.feed(Array("\r\nReceived: x\r\n".utf8))
        #expect(c.hops == 0 && c.headerEnded)
    }
}
