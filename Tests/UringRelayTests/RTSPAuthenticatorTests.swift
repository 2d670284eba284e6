import Testing
@testable import UringRelay

@Suite struct RTSPAuthenticatorTests {
    static func unauthorized(_ challenges: String...) -> RTSPMessage {
        RTSPMessage(response: 401, headers: [("CSeq", "2")] + challenges.map { ("WWW-Authenticate", $0) })
    }

    static let rfc2617 = #"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#

    @Test func noAuthorizationBeforeAChallenge() {
        var a = RTSPAuthenticator(user: "admin", password: "12345")
        let header = a.authorization(method: "DESCRIBE", uri: "rtsp://198.51.100.7/live")
        #expect(header == nil)
        #expect(!a.hasChallenge)
    }

    @Test func digestWithQopMatchesRFC2617Example() {
        var a = RTSPAuthenticator(user: "Mufasa", password: "Circle Of Life", cnonce: "0a4f113b")
        let accepted = a.handle401(Self.unauthorized(Self.rfc2617))
        #expect(accepted)
        let header = a.authorization(method: "GET", uri: "/dir/index.html")
        #expect(header
            == #"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001, cnonce="0a4f113b""#)
        // The next request with the same nonce counts up.
        let second = a.authorization(method: "GET", uri: "/dir/index.html") ?? ""
        #expect(second.contains("nc=00000002"))
        #expect(second.contains(#"response="15b6bb427e3fecd23a43cb702ce447d5""#))
    }

    @Test func digestWithoutQop() {
        var a = RTSPAuthenticator(user: "Mufasa", password: "Circle Of Life")
        let accepted = a.handle401(Self.unauthorized(#"Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093""#))
        #expect(accepted)
        let header = a.authorization(method: "GET", uri: "/dir/index.html")
        #expect(header
            == #"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", response="670fd8c2df070c60b045671b8b24ff02""#)
    }

    @Test func cameraStyleDigestWithAlgorithm() {
        var a = RTSPAuthenticator(user: "admin", password: "12345")
        let accepted = a.handle401(Self.unauthorized(#"Digest realm="IP Camera(C1234)", nonce="4f3c2b1a", stale="FALSE", algorithm="MD5""#))
        #expect(accepted)
        let header = a.authorization(method: "DESCRIBE", uri: "rtsp://198.51.100.7:554/live")
        #expect(header
            == #"Digest username="admin", realm="IP Camera(C1234)", nonce="4f3c2b1a", uri="rtsp://198.51.100.7:554/live", response="d16f092ab0addc9e3dcd0a521fc3a18e", algorithm=MD5"#)
    }

    @Test func md5SessNeedsQop() {
        var a = RTSPAuthenticator(user: "admin", password: "12345", cnonce: "cafe")
        let accepted = a.handle401(Self.unauthorized(#"Digest realm="IP Camera(C1234)", nonce="4f3c2b1a", algorithm=MD5-sess"#))
        #expect(!accepted)
        let accepted2 = a.handle401(Self.unauthorized(#"Digest realm="IP Camera(C1234)", nonce="4f3c2b1a", algorithm=MD5-sess, qop=auth"#))
        #expect(accepted2)
        let h = a.authorization(method: "DESCRIBE", uri: "rtsp://198.51.100.7:554/live") ?? ""
        #expect(h.contains(#"response="7270cd0864d8daf8243fc77d8d18c6be""#) && h.contains("algorithm=MD5-sess"))
    }

    @Test func prefersDigestOverBasicInAnyOrder() {
        for challenges in [[#"Basic realm="cam""#, #"Digest realm="cam", nonce="n1""#],
                           [#"Digest realm="cam", nonce="n1""#, #"Basic realm="cam""#],
                           [#"Basic realm="cam", Digest realm="cam", nonce="n1""#]] {
            var a = RTSPAuthenticator(user: "u", password: "p")
            let accepted = a.handle401(RTSPMessage(response: 401, headers: challenges.map { ("WWW-Authenticate", $0) }))
            #expect(accepted)
            let header = a.authorization(method: "OPTIONS", uri: "*")
            #expect(header?.hasPrefix("Digest ") == true, "\(challenges)")
        }
    }

    @Test func fallsBackToBasicWhenDigestIsUnusable() {
        var a = RTSPAuthenticator(user: "Aladdin", password: "open sesame")
        let accepted = a.handle401(Self.unauthorized(#"Digest realm="cam", nonce="n", algorithm=SHA-256"#, #"basic realm="cam""#))
        #expect(accepted)
        let header = a.authorization(method: "DESCRIBE", uri: "rtsp://h/live")
        #expect(header == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
        var b = RTSPAuthenticator(user: "u", password: "p")
        let accepted2 = b.handle401(Self.unauthorized(#"Digest realm="cam", nonce="n", qop="auth-int""#))
        #expect(!accepted2)
        let accepted3 = b.handle401(Self.unauthorized(#"Negotiate abc=="#))
        #expect(!accepted3)
        let accepted4 = b.handle401(RTSPMessage(response: 401))
        #expect(!accepted4)
    }

    @Test func stopsWhenTheSameChallengeComesBack() {
        var a = RTSPAuthenticator(user: "admin", password: "wrong")
        let challenge = Self.unauthorized(#"Digest realm="cam", nonce="n1""#)
        let accepted = a.handle401(challenge)
        #expect(accepted)
        _ = a.authorization(method: "DESCRIBE", uri: "rtsp://h/live")
        let accepted2 = a.handle401(challenge)
        #expect(!accepted2)

        var b = RTSPAuthenticator(user: "admin", password: "wrong")
        let accepted3 = b.handle401(Self.unauthorized(#"Basic realm="cam""#))
        #expect(accepted3)
        _ = b.authorization(method: "DESCRIBE", uri: "rtsp://h/live")
        let accepted4 = b.handle401(Self.unauthorized(#"Basic realm="cam""#))
        #expect(!accepted4)
    }

    @Test func stopsWhenTheRetryIsRefusedWithAFreshNonce() {
        // Cameras that hand out a new nonce with every 401 would otherwise loop forever.
        var a = RTSPAuthenticator(user: "admin", password: "wrong")
        let accepted = a.handle401(Self.unauthorized(#"Digest realm="cam", nonce="n1""#))
        #expect(accepted)
        _ = a.authorization(method: "DESCRIBE", uri: "rtsp://h/live")
        let accepted2 = a.handle401(Self.unauthorized(#"Digest realm="cam", nonce="n2""#))
        #expect(!accepted2)
    }

    @Test func retriesAStaleNonce() {
        var a = RTSPAuthenticator(user: "admin", password: "12345", cnonce: "c")
        let accepted = a.handle401(Self.unauthorized(#"Digest realm="cam", nonce="n1", qop=auth"#))
        #expect(accepted)
        _ = a.authorization(method: "DESCRIBE", uri: "rtsp://h/live")
        let accepted2 = a.handle401(Self.unauthorized(#"Digest realm="cam", nonce="n2", qop=auth, stale=TRUE"#))
        #expect(accepted2)
        let h = a.authorization(method: "DESCRIBE", uri: "rtsp://h/live") ?? ""
        #expect(h.contains(#"nonce="n2""#) && h.contains("nc=00000001"))
        // Stale but unchanged: nothing to retry with.
        let accepted3 = a.handle401(Self.unauthorized(#"Digest realm="cam", nonce="n2", qop=auth, stale=true"#))
        #expect(!accepted3)
    }

    @Test func acceptsANewNonceLaterInTheSession() {
        // DESCRIBE, SETUP and PLAY went through; a later request meets an expired nonce
        // from a camera that does not say stale: that is worth one more try.
        var a = RTSPAuthenticator(user: "admin", password: "12345")
        let accepted = a.handle401(Self.unauthorized(#"Digest realm="cam", nonce="n1""#))
        #expect(accepted)
        for m in ["DESCRIBE", "SETUP", "PLAY"] { _ = a.authorization(method: m, uri: "rtsp://h/live") }
        let accepted2 = a.handle401(Self.unauthorized(#"Digest realm="cam", nonce="n2""#))
        #expect(accepted2)
        let header = a.authorization(method: "GET_PARAMETER", uri: "rtsp://h/live")
        #expect(header?.contains(#"nonce="n2""#) == true)
    }

    @Test func escapesQuotesInQuotedFields() {
        var a = RTSPAuthenticator(user: #"a"b\c"#, password: "p")
        let accepted = a.handle401(Self.unauthorized(#"Digest realm="r", nonce="n""#))
        #expect(accepted)
        let header = a.authorization(method: "OPTIONS", uri: "*")
        #expect(header?.hasPrefix(#"Digest username="a\"b\\c", realm="r""#) == true)
    }

    @Test func randomCnoncesDiffer() {
        var a = RTSPAuthenticator(user: "u", password: "p")
        var b = RTSPAuthenticator(user: "u", password: "p")
        let c = Self.unauthorized(#"Digest realm="r", nonce="n", qop="auth""#)
        let accepted = a.handle401(c) && b.handle401(c)
        #expect(accepted)
        let fromA = a.authorization(method: "OPTIONS", uri: "*")
        let fromB = b.authorization(method: "OPTIONS", uri: "*")
        #expect(fromA != fromB)
    }
}
