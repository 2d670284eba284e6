import Testing
@testable import UringRelay

@Suite struct H264ParametersTests {
    static let sps: [UInt8] = [0x67, 0x42, 0xC0, 0x1E, 0xD9, 0x03, 0xC5, 0x68, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40,
                               0x00, 0x00, 0x0C, 0x03, 0xC5, 0x8B, 0x92]
    static let pps: [UInt8] = [0x68, 0xCB, 0x8C, 0xB2]
    static let both = H264Parameters(sps: sps, pps: pps)

    static let fmtps: [(String, String, H264Parameters)] = [
        ("GStreamer, with payload type", "96 packetization-mode=1;profile-level-id=42c01e;sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==", both),
        ("without payload type", "packetization-mode=1;sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==", both),
        ("PPS first", "96 sprop-parameter-sets=aMuMsg==,Z0LAHtkDxWhAAAADAEAAAAwDxYuS;packetization-mode=1", both),
        ("no padding", "96 sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg", both),
        ("one padding character", "96 sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg=", both),
        ("spaces everywhere", "96  packetization-mode=1; sprop-parameter-sets = Z0LAHtkDxWhAAAADAEAAAAwDxYuS , aMuMsg== ;", both),
        ("key in upper case", "96 Sprop-Parameter-Sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==", both),
        ("SPS only", "96 sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS", H264Parameters(sps: sps)),
        ("PPS only, trailing comma", "96 sprop-parameter-sets=aMuMsg==,", H264Parameters(pps: pps)),
        ("a bad set is skipped", "96 sprop-parameter-sets=!!!!,aMuMsg==", H264Parameters(pps: pps)),
        ("a SEI set is ignored", "96 sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==,BgUB", both),
        ("two SPS: the first wins", "96 sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,Z2QAKKzZQHgCJ+XARAAAAwAEAAADAPA8YMZY,aMuMsg==", both),
        ("no sprop", "96 packetization-mode=1;profile-level-id=42c01e", H264Parameters()),
        ("empty", "", H264Parameters()),
        ("empty value", "96 sprop-parameter-sets=", H264Parameters()),
        ("payload type alone", "96", H264Parameters()),
    ]

    @Test(arguments: fmtps)
    func readsSpropParameterSets(_ name: String, _ fmtp: String, _ expected: H264Parameters) {
        #expect(H264Parameters.fromFmtp(fmtp) == expected, "\(name)")
    }

    @Test func reencodesForACleanSDP() {
        #expect(Self.both.spropParameterSets == "Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==")
        #expect(H264Parameters(pps: Self.pps).spropParameterSets == "aMuMsg==")
        #expect(H264Parameters().spropParameterSets == nil)
        #expect(H264Parameters(sps: [], pps: []).spropParameterSets == nil)
        #expect(Self.both.profileLevelID == "42c01e")
        #expect(H264Parameters(pps: Self.pps).profileLevelID == nil)
    }

    @Test func base64RoundTripsEveryLength() {
        var rng = SplitMix64(seed: 0x5EED_B64)
        for length in 0...64 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let encoded = SPropBase64.encode(bytes)
            #expect(encoded.utf8.count % 4 == 0)
            #expect(SPropBase64.decode(Substring(encoded)) == bytes, "length \(length)")
            let unpadded = encoded.filter { $0 != "=" }
            #expect(SPropBase64.decode(Substring(unpadded)) == bytes, "length \(length) unpadded")
        }
    }

    @Test func base64KnownVectorsAndRejections() {
        // RFC 4648 §10.
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(SPropBase64.encode(Array(plain.utf8)) == encoded)
            #expect(SPropBase64.decode(Substring(encoded)) == Array(plain.utf8))
        }
        #expect(SPropBase64.decode("-_8") == [0xFB, 0xFF])  // URL-safe alphabet
        #expect(SPropBase64.decode(" Zm 9v ") == Array("foo".utf8))
        for bad in ["Z", "Zm9vY", "Zg===", "Zm9v=", "Zg==Zg==", "Zm*v", "Zm9=v", "===="] {
            #expect(SPropBase64.decode(Substring(bad)) == nil, "\(bad)")
        }
    }
}
