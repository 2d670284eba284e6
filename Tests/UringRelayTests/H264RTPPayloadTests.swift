import Testing
@testable import UringRelay

@Suite struct H264RTPPayloadTests {
    typealias Info = H264RTPPayload.Info
    static let sps = H264ParametersTests.sps
    static let pps = H264ParametersTests.pps
    static let idr: [UInt8] = [0x65, 0x88, 0x84, 0x00, 0x33]
    static let slice: [UInt8] = [0x41, 0x9A, 0x02]
    static let sei: [UInt8] = [0x06, 0x05, 0x01, 0x80]

    static func unit(_ nal: [UInt8]) -> [UInt8] { [UInt8(nal.count >> 8), UInt8(nal.count & 0xFF)] + nal }

    static let cases: [(String, [UInt8], Info)] = [
        ("single IDR", idr, Info(startsKeyframe: true)),
        ("single non-IDR slice", slice, Info()),
        ("single SPS", sps, Info(sps: 0..<sps.count)),
        ("single PPS", pps, Info(pps: 0..<pps.count)),
        ("single SEI", sei, Info()),
        ("STAP-A SPS PPS IDR", [0x78] + unit(sps) + unit(pps) + unit(idr),
         Info(sps: 3..<(3 + sps.count), pps: (5 + sps.count)..<(5 + sps.count + pps.count), startsKeyframe: true)),
        ("STAP-A SPS PPS", [0x78] + unit(sps) + unit(pps), Info(sps: 3..<(3 + sps.count), pps: (5 + sps.count)..<(5 + sps.count + pps.count))),
        ("STAP-A SEI slice", [0x78] + unit(sei) + unit(slice), Info()),
        ("STAP-A with zero padding", [0x78] + unit(pps) + [0, 0, 0], Info(pps: 3..<(3 + pps.count))),
        ("STAP-A with a size past the end", [0x78] + unit(pps) + [0, 9, 0x65, 1], Info()),
        ("STAP-A with one byte left over", [0x78] + unit(pps) + [0], Info()),
        ("STAP-A holding nothing", [0x78], Info()),
        ("STAP-A starting with padding", [0x78, 0, 0] + unit(idr), Info()),
        ("FU-A IDR start", [0x7C, 0x85, 0xB8, 0x00], Info(startsKeyframe: true)),
        ("FU-A IDR middle", [0x7C, 0x05, 0xB8, 0x00], Info()),
        ("FU-A IDR end", [0x7C, 0x45, 0xB8], Info()),
        ("FU-A IDR start and end", [0x7C, 0xC5, 0xB8], Info(startsKeyframe: true)),
        ("FU-A non-IDR start", [0x5C, 0x81, 0x9A], Info()),
        ("FU-A SPS start is not whole", [0x7C, 0x87, 0x42, 0xC0], Info()),
        ("FU-A without FU header", [0x7C], Info()),
        ("FU-A header only", [0x7C, 0x85], Info(startsKeyframe: true)),
        ("empty", [], Info()),
        ("type 0", [0x00, 1, 2], Info()),
        ("STAP-B", [0x19, 0, 0, 0, 2, 0x65, 0], Info()),
        ("MTAP16", [0x1A, 0, 0], Info()),
        ("FU-B", [0x1D, 0x85, 0, 0], Info()),
        ("type 31", [0x1F], Info()),
        ("F bit set on an IDR", [0xE5, 1, 2], Info(startsKeyframe: true)),
    ]

    @Test(arguments: cases)
    func inspects(_ name: String, _ payload: [UInt8], _ expected: Info) {
        #expect(H264RTPPayload.inspect(payload) == expected, "\(name)")
    }

    @Test func rangesPointAtTheParameterSets() {
        let payload = [0x78] + Self.unit(Self.sei) + Self.unit(Self.sps) + Self.unit(Self.pps) + Self.unit(Self.idr)
        let info = H264RTPPayload.inspect(payload)
        #expect(info.containsSPS && info.containsPPS && info.startsKeyframe)
        #expect(info.sps.map { Array(payload[$0]) } == Self.sps)
        #expect(info.pps.map { Array(payload[$0]) } == Self.pps)
    }

    @Test func stapAOfSPSAndPPS() {
        let built = H264RTPPayload.stapA([Self.sps, Self.pps])
        #expect(built == [0x78] + Self.unit(Self.sps) + Self.unit(Self.pps))
        let info = H264RTPPayload.inspect(built)
        #expect(info.sps.map { Array(built[$0]) } == Self.sps && info.pps.map { Array(built[$0]) } == Self.pps)
        #expect(!info.startsKeyframe)
    }

    @Test func stapAHeaderTakesTheHighestNRIAndAnyF() {
        #expect(H264RTPPayload.stapA([[0x06, 1], [0x41, 2]]) == [0x58, 0, 2, 0x06, 1, 0, 2, 0x41, 2])
        #expect(H264RTPPayload.stapA([[0x86, 1]]) == [0x98, 0, 2, 0x86, 1])
        #expect(H264RTPPayload.stapA([[0x06]]) == [0x18, 0, 1, 0x06])
    }

    @Test func stapALeavesOutWhatCannotBeAggregated() {
        let huge = [0x65] + [UInt8](repeating: 0, count: H264RTPPayload.maxAggregatedNALBytes)
        #expect(H264RTPPayload.stapA([]) == [])
        #expect(H264RTPPayload.stapA([[], huge]) == [])
        #expect(H264RTPPayload.stapA([[], Self.pps, huge]) == [0x78] + Self.unit(Self.pps))
        let largest = [0x65] + [UInt8](repeating: 0, count: H264RTPPayload.maxAggregatedNALBytes - 1)
        #expect(H264RTPPayload.inspect(H264RTPPayload.stapA([largest])).startsKeyframe)
    }

    @Test func randomBytesNeverTrapAndRangesStayInside() {
        var rng = SplitMix64(seed: 0x0264_F022)
        for iteration in 0..<10_000 {
            let length = Int.random(in: 0...48, using: &rng)
            var payload = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Bias towards the aggregation and fragmentation types, where the bounds are.
            if !payload.isEmpty, iteration % 3 != 0 { payload[0] = (payload[0] & 0xE0) | (iteration % 3 == 1 ? 24 : 28) }
            if iteration % 7 == 0, payload.count > 3 {
                payload[1] = 0; payload[2] = UInt8(truncatingIfNeeded: payload.count - 3)  // one exact-size unit
            }
            let info = H264RTPPayload.inspect(payload)
            for range in [info.sps, info.pps].compactMap({ $0 }) {
                #expect(range.lowerBound >= 0 && range.upperBound <= payload.count && !range.isEmpty)
            }
            if let r = info.sps { #expect(payload[r.lowerBound] & 0x1F == 7) }
            if let r = info.pps { #expect(payload[r.lowerBound] & 0x1F == 8) }
        }
    }
}
