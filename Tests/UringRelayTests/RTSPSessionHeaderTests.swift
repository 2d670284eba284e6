import Testing
@testable import UringRelay

@Suite struct RTSPSessionHeaderTests {
    static let values: [(String, String?, Int?)] = [
        ("12345678;timeout=30", "12345678", 30),
        ("12345678", "12345678", nil),
        (" 47112344 ; timeout = 60 ", "47112344", 60),
        ("ABCDEF0123;Timeout=5;foo=bar", "ABCDEF0123", 5),
        ("abc;timeout=", "abc", nil),
        ("abc;timeout=-1", "abc", nil),
        ("abc;timeout=99999999999", "abc", nil),
        ("", nil, nil),
        (";timeout=30", nil, nil),
    ]

    @Test(arguments: values)
    func parses(_ value: String, _ id: String?, _ timeout: Int?) {
        let s = RTSPSessionHeader.parse(value)
        #expect(s?.id == id, "\(value)")
        #expect(s?.timeoutSeconds == timeout, "\(value)")
    }

    @Test func serializesAndDefaults() {
        #expect(RTSPSessionHeader(id: "12345678", timeoutSeconds: 30).serialized() == "12345678;timeout=30")
        #expect(RTSPSessionHeader(id: "12345678").serialized() == "12345678")
        #expect(RTSPSessionHeader(id: "x").effectiveTimeoutSeconds == 60)
    }
}
