import Testing
@testable import UringRelay

@Suite struct ReceivedHeaderTests {
    @Test(arguments: [
        (0, "Thu, 01 Jan 1970 00:00:00 +0000"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 +0000"),
        (1_796_326_245, "Thu, 03 Dec 2026 19:30:45 +0000"),
        (4_107_542_399, "Sun, 28 Feb 2100 23:59:59 +0000"),
        (-1, "Wed, 31 Dec 1969 23:59:59 +0000"),
    ])
    func datesAreRFC5322(unixTime: Int, expected: String) {
        #expect(ReceivedHeader.rfc5322Date(unixTime: unixTime) == expected)
    }

    @Test func headerShapeAndInjectionSafety() {
        let h = ReceivedHeader.make(heloName: "evil\r\nBcc: x@y", clientIP: "192.0.2.7", hostname: "relay.example",
                                    protocol: .esmtp, id: "ABC123", recipient: nil, unixTime: 0)
        let text = String(decoding: h, as: UTF8.self)
        #expect(text == "Received: from evil??Bcc: x@y ([192.0.2.7])\r\n\tby relay.example (uring-relay) with ESMTP id ABC123; Thu, 01 Jan 1970 00:00:00 +0000\r\n")
        // Exactly two CRLFs: the folded header and its end. Nothing the client sent adds one.
        #expect(h.indices.filter { h[$0] == 10 }.count == 2)
    }
}
