import Testing
@testable import UringRelay

@Suite struct RTCPCompoundTests {
    /// SR from 0x11223344, one report block about 0xAABBCCDD: 52 bytes, length field 12.
    static let senderReport: [UInt8] = [0x81, 200, 0, 12, 0x11, 0x22, 0x33, 0x44]
        + [0x83, 0xAA, 0x7E, 0x80, 0x00, 0x00, 0x00, 0x01]  // NTP
        + [0, 0, 0x03, 0xE8]  // RTP timestamp 1000
        + [0, 0, 0, 10]  // packets
        + [0, 0, 0x05, 0xDC]  // octets 1500
        + [0xAA, 0xBB, 0xCC, 0xDD, 0x40, 0xFF, 0xFF, 0xFF]  // fraction 64/256, cumulative −1
        + [0, 1, 0, 5, 0, 0, 0, 42, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 9]
    /// SDES, one chunk: SSRC + CNAME "abc" + end + pad to a word: 16 bytes, length 3.
    static let sdes: [UInt8] = [0x81, 202, 0, 3, 0x11, 0x22, 0x33, 0x44, 1, 3, 0x61, 0x62, 0x63, 0, 0, 0]
    static let emptyRR: [UInt8] = [0x80, 201, 0, 1, 0, 0, 0, 7]
    static let bye: [UInt8] = [0x81, 203, 0, 1, 0, 0, 0, 7]

    @Test func walksSRAndSDES() throws {
        let packets = try RTCPCompound.parse(Self.senderReport + Self.sdes, requireReportFirst: true).get()
        #expect(packets.count == 2)
        let sr = packets[0]
        #expect(sr.type == .senderReport && sr.count == 1 && sr.offset == 0 && sr.length == 52)
        #expect(sr.ssrc == 0x1122_3344)
        #expect(sr.senderInfo == RTCPSenderInfo(ntpTimestamp: 0x83AA_7E80_0000_0001, rtpTimestamp: 1000, packetCount: 10, octetCount: 1500))
        #expect(sr.reportBlocks == [RTCPReportBlock(ssrc: 0xAABB_CCDD, fractionLost: 64, cumulativeLost: -1,
                                                    extendedHighestSequence: 0x0001_0005, jitter: 42,
                                                    lastSenderReport: 0x1234_5678, delaySinceLastSenderReport: 9)])
        #expect(packets[1].type == .sourceDescription && packets[1].offset == 52 && packets[1].length == 16)
        #expect(packets[1].ssrc == 0x1122_3344)
    }

    @Test func walksRRAndBYE() throws {
        let packets = try RTCPCompound.parse(Self.emptyRR + Self.bye).get()
        #expect(packets.map(\.packetType) == [201, 203])
        #expect(packets[0].reportBlocks.isEmpty && packets[0].ssrc == 7 && packets[0].senderInfo == nil)
        #expect(packets[1].count == 1 && packets[1].ssrc == 7)
    }

    @Test func positiveCumulativeLostAndPaddedLastPacket() throws {
        // RR with one block (cumulative 0x000102 = 258), then a BYE padded by 4 bytes.
        let rr: [UInt8] = [0x81, 201, 0, 7, 0, 0, 0, 7, 0xAA, 0xBB, 0xCC, 0xDD, 0x00, 0x00, 0x01, 0x02] + [UInt8](repeating: 0, count: 16)
        let paddedBye: [UInt8] = [0xA1, 203, 0, 2, 0, 0, 0, 7, 0, 0, 0, 4]
        let packets = try RTCPCompound.parse(rr + paddedBye).get()
        #expect(packets[0].reportBlocks.first?.cumulativeLost == 258)
        #expect(packets[1].length == 12)
    }

    @Test func unknownTypesAreWalkedOver() throws {
        // RTPFB (205) generic NACK between RR and SDES.
        let nack: [UInt8] = [0x81, 205, 0, 3, 0, 0, 0, 7, 0xAA, 0xBB, 0xCC, 0xDD, 0, 5, 0, 0]
        let packets = try RTCPCompound.parse(Self.emptyRR + nack + Self.sdes).get()
        #expect(packets.map(\.packetType) == [201, 205, 202])
        #expect(packets[1].type == nil && packets[1].ssrc == 7)
    }

    static let invalid: [(String, [UInt8], Bool, RTCPError)] = [
        ("empty", [], false, .empty),
        ("3 bytes", [0x80, 201, 0], false, .truncatedHeader(offset: 0)),
        ("trailing 2 bytes", emptyRR + [0x80, 201], false, .truncatedHeader(offset: 8)),
        ("version 1", [0x40, 201, 0, 1, 0, 0, 0, 7], false, .badVersion(offset: 0, version: 1)),
        ("second packet version 0", emptyRR + [0x00, 203, 0, 0], false, .badVersion(offset: 8, version: 0)),
        ("length past the end", [0x80, 201, 0, 2, 0, 0, 0, 7], false, .lengthBeyondEnd(offset: 0, length: 12, available: 8)),
        ("SR without sender info", [0x80, 200, 0, 1, 0, 0, 0, 7], false, .bodyTooShort(offset: 0, type: 200, length: 8, needed: 28)),
        ("RR says 1 block, has none", [0x81, 201, 0, 1, 0, 0, 0, 7], false, .bodyTooShort(offset: 0, type: 201, length: 8, needed: 32)),
        ("BYE says 2 sources, has 1", [0x82, 203, 0, 1, 0, 0, 0, 7], false, .bodyTooShort(offset: 0, type: 203, length: 8, needed: 12)),
        ("APP without name", [0x80, 204, 0, 1, 0, 0, 0, 7], false, .bodyTooShort(offset: 0, type: 204, length: 8, needed: 12)),
        ("padding on the first of two", [0xA0, 201, 0, 1, 0, 0, 0, 4] + bye, false, .badPadding(offset: 0)),
        ("padding count 0", [0xA0, 201, 0, 1, 0, 0, 0, 0], false, .badPadding(offset: 0)),
        ("padding eating the header", [0xA0, 201, 0, 1, 0, 0, 0, 8], false, .badPadding(offset: 0)),
        ("padding eating the RR's SSRC", [0xA0, 201, 0, 1, 0, 0, 0, 4], false, .bodyTooShort(offset: 0, type: 201, length: 4, needed: 8)),
        ("SDES first, when a report is required", sdes, true, .firstNotReport(type: 202)),
    ]

    @Test(arguments: invalid)
    func rejectsMalformed(_ name: String, _ bytes: [UInt8], _ strict: Bool, _ expected: RTCPError) {
        switch RTCPCompound.parse(bytes, requireReportFirst: strict) {
        case .success(let p): Issue.record("\(name): accepted as \(p)")
        case .failure(let e): #expect(e == expected, "\(name)")
        }
    }

    @Test func tooManyPacketsIsRejected() {
        let many = [[UInt8]](repeating: Self.emptyRR, count: RTCPCompound.maxPackets + 1).flatMap { $0 }
        #expect(throws: RTCPError.tooManyPackets(RTCPCompound.maxPackets)) { try RTCPCompound.parse(many).get() }
    }

    @Test func everyTruncationIsRejected() {
        let full = Self.senderReport + Self.sdes
        for n in 0..<full.count where n != 52 {
            if case .success = RTCPCompound.parse(Array(full[0..<n])) { Issue.record("accepted a truncation to \(n) bytes") }
        }
        #expect((try? RTCPCompound.parse(Array(full[0..<52])).get())?.count == 1)
    }
}
