import Testing
@testable import UringRelay

@Suite struct RTSPAuthChallengeTests {
    @Test func parsesQuotedAndUnquotedValues() throws {
        let cs = RTSPAuthChallenge.parseAll(#"Digest realm="IP Camera(C1234)", nonce="a1b2c3", stale=FALSE, algorithm=MD5"#)
        #expect(cs.count == 1)
        let c = try #require(cs.first)
        #expect(c.scheme == "digest")
        #expect(c.parameter("realm") == "IP Camera(C1234)")
        #expect(c.parameter("NONCE") == "a1b2c3")
        #expect(c.parameter("stale") == "FALSE")
        #expect(c.parameter("algorithm") == "MD5")
    }

    @Test func handlesCommasAndEscapedQuotesInsideQuotes() throws {
        let c = try #require(RTSPAuthChallenge.parseAll(#"DIGEST Realm="a, \"b\"", QOP="auth,auth-int",nonce=xyz"#).first)
        #expect(c.scheme == "digest")
        #expect(c.parameter("realm") == #"a, "b""#)
        #expect(c.parameter("qop") == "auth,auth-int")
        #expect(c.parameter("nonce") == "xyz")
    }

    @Test func splitsSeveralChallengesInOneHeader() {
        let cs = RTSPAuthChallenge.parseAll(#"Digest realm="r", nonce="n", Basic realm="r""#)
        #expect(cs.map(\.scheme) == ["digest", "basic"])
        #expect(cs[0].parameters.count == 2 && cs[1].parameter("realm") == "r")
    }

    @Test func survivesGarbage() {
        #expect(RTSPAuthChallenge.parseAll("").isEmpty)
        #expect(RTSPAuthChallenge.parseAll("realm=x").isEmpty)
        #expect(RTSPAuthChallenge.parseAll(#"Basic realm="unterminated"#).first?.parameter("realm") == "unterminated")
        #expect(RTSPAuthChallenge.parseAll(#"Basic " " , ="#).map(\.scheme) == ["basic"])
    }
}
