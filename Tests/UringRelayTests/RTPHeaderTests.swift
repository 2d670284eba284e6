import Testing
@testable import UringRelay

@Suite struct RTPHeaderTests {
    static let fixed: [UInt8] = [0x12, 0x34, 0x00, 0x00, 0x00, 0x64, 0xDE, 0xAD, 0xBE, 0xEF]  // seq, ts, ssrc

    /// (bytes, marker, PT, CSRCs, extension profile, extension bytes, header length, payload, padding)
    static let valid: [(String, [UInt8], Bool, UInt8, Int, UInt16?, Int, Int, Int, Int)] = [
        ("minimal", [0x80, 0x60] + fixed + Array("abc".utf8), false, 96, 0, nil, 0, 12, 3, 0),
        ("header only", [0x80, 0x00] + fixed, false, 0, 0, nil, 0, 12, 0, 0),
        ("marker and 2 CSRCs", [0x82, 0xE0] + fixed + [0, 0, 0, 1, 0, 0, 0, 2] + [9], true, 96, 2, nil, 0, 20, 1, 0),
        ("one-word extension", [0x90, 0x60] + fixed + [0xBE, 0xDE, 0x00, 0x01, 1, 2, 3, 4] + [7, 7], false, 96, 0, 0xBEDE, 4, 20, 2, 0),
        ("empty extension", [0x90, 0x60] + fixed + [0x10, 0x00, 0x00, 0x00], false, 96, 0, 0x1000, 0, 16, 0, 0),
        ("padding 3", [0xA0, 0x60] + fixed + [1, 2, 3, 4] + [0, 0, 3], false, 96, 0, nil, 0, 12, 4, 3),
        ("padding is everything after the header", [0xA0, 0x60] + fixed + [0, 0, 3], false, 96, 0, nil, 0, 12, 0, 3),
        ("CSRC, extension and padding", [0xB1, 0x60] + fixed + [0, 0, 0, 9] + [0xBE, 0xDE, 0, 2] + [UInt8](repeating: 0, count: 8)
            + [0xAA, 0xBB] + [0, 2], false, 96, 1, 0xBEDE, 8, 28, 2, 2),
    ]

    @Test(arguments: valid)
    func parsesValidPackets(_ name: String, _ bytes: [UInt8], _ marker: Bool, _ pt: UInt8, _ cc: Int, _ profile: UInt16?,
                            _ extLength: Int, _ headerLength: Int, _ payload: Int, _ padding: Int) throws {
        let h = try RTPHeader.parse(bytes).get()
        #expect(h.marker == marker, "\(name)")
        #expect(h.payloadType == pt, "\(name)")
        #expect(h.sequenceNumber == 0x1234 && h.timestamp == 100 && h.ssrc == 0xDEAD_BEEF, "\(name)")
        #expect(h.csrcCount == cc, "\(name)")
        #expect(h.extensionProfile == profile && h.extensionLength == extLength, "\(name)")
        #expect(h.headerLength == headerLength, "\(name)")
        #expect(h.payloadLength == payload, "\(name)")
        #expect(h.paddingLength == padding, "\(name)")
        #expect(h.headerLength + h.payloadLength + h.paddingLength == bytes.count, "\(name)")
    }

    @Test func readsCSRCs() throws {
        let bytes: [UInt8] = [0x82, 0x60] + Self.fixed + [0, 0, 0, 1, 0xCA, 0xFE, 0xBA, 0xBE]
        let h = try RTPHeader.parse(bytes).get()
        bytes.withUnsafeBytes { b in
            #expect(h.csrc(0, in: b) == 1)
            #expect(h.csrc(1, in: b) == 0xCAFE_BABE)
        }
    }

    static let invalid: [(String, [UInt8], RTPHeaderError)] = [
        ("empty", [], .tooShort(0)),
        ("11 bytes", [0x80, 0x60] + [UInt8](repeating: 0, count: 9), .tooShort(11)),
        ("version 0", [0x00, 0x60] + fixed, .badVersion(0)),
        ("version 1", [0x40, 0x60] + fixed, .badVersion(1)),
        ("version 3", [0xC0, 0x60] + fixed, .badVersion(3)),
        ("RTCP SR", [0x80, 200] + fixed, .rtcpPacketType(200)),
        ("RTCP APP", [0x80, 204] + fixed, .rtcpPacketType(204)),
        ("15 CSRCs in 70 bytes", [0x8F, 0x60] + fixed + [UInt8](repeating: 0, count: 58), .csrcBeyondEnd(count: 15, length: 70)),
        ("1 CSRC, 3 bytes of it", [0x81, 0x60] + fixed + [0, 0, 0], .csrcBeyondEnd(count: 1, length: 15)),
        ("extension flag, no extension header", [0x90, 0x60] + fixed + [0xBE, 0xDE], .extensionBeyondEnd(length: 14)),
        ("extension longer than the datagram", [0x90, 0x60] + fixed + [0xBE, 0xDE, 0, 2, 1, 2, 3, 4], .extensionBeyondEnd(length: 20)),
        ("padding count 0", [0xA0, 0x60] + fixed + [1, 0], .badPadding(count: 0, available: 2)),
        ("padding past the header", [0xA0, 0x60] + fixed + [5], .badPadding(count: 5, available: 1)),
        ("padding with header only", [0xA0, 0x60] + fixed, .badPadding(count: 0xEF, available: 0)),
        ("padding eating the extension", [0xB0, 0x60] + fixed + [0xBE, 0xDE, 0, 0] + [6], .badPadding(count: 6, available: 1)),
    ]

    @Test(arguments: invalid)
    func rejectsMalformedPackets(_ name: String, _ bytes: [UInt8], _ expected: RTPHeaderError) {
        switch RTPHeader.parse(bytes) {
        case .success(let h): Issue.record("\(name): accepted as \(h)")
        case .failure(let e): #expect(e == expected, "\(name)")
        }
    }

    @Test func everyTruncationOfAValidPacketIsRejectedOrShorter() {
        // Cutting a packet with CSRC, extension and padding at any length never reads past
        // the end and never yields a header longer than what is there.
        let full = Self.valid.last!.1
        for n in 0...full.count {
            if case .success(let h) = RTPHeader.parse(Array(full[0..<n])) {
                #expect(h.headerLength + h.payloadLength + h.paddingLength == n)
            }
        }
    }
}
