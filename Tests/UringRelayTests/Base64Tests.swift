import Testing
@testable import UringRelay

@Suite struct Base64Tests {
    /// RFC 4648 §10.
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ]

    @Test(arguments: vectors)
    func encodesAndDecodesRFC4648(_ plain: String, _ encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
        // Missing padding, as in many cameras' sprop-parameter-sets.
        #expect(Base64.decode(String(encoded.prefix { $0 != "=" })) == Array(plain.utf8))
    }

    @Test func basicCredentials() {
        #expect(Base64.encode("Aladdin:open sesame") == "QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    }

    @Test func decodesSpropParameterSets() {
        // H.264 SPS and PPS as a camera's SDP carries them.
        #expect(Base64.decode("Z0IAKeKQFAe2AtwEBAaQeJEV") == [0x67, 0x42, 0x00, 0x29, 0xE2, 0x90, 0x14, 0x07, 0xB6, 0x02, 0xDC,
                                                              0x04, 0x04, 0x06, 0x90, 0x78, 0x91, 0x15])
        #expect(Base64.decode("aM48gA==") == [0x68, 0xCE, 0x3C, 0x80])
        #expect(Base64.decode("aM48gA") == [0x68, 0xCE, 0x3C, 0x80])
    }

    static let invalid = ["Zg=", "Z", "Zm9vY", "Zm9v=Zm9v", "Zg===", "Z===", "Zm 9v", "Zm9v\n", "Zm9-", "Zm9_", "é"]

    @Test(arguments: invalid)
    func rejectsInvalid(_ s: String) {
        #expect(Base64.decode(s) == nil, "\(s)")
    }

    @Test func roundTripsEveryByteValue() {
        var rng = SplitMix64(seed: 64)
        for n in 0..<70 {
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
    }
}
