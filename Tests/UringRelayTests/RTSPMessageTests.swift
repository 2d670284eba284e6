import Testing
@testable import UringRelay

@Suite struct RTSPMessageTests {
    @Test func serializesARequestWithCRLFAndNoBody() {
        let m = RTSPMessage(request: "OPTIONS", uri: "rtsp://198.51.100.7/live", headers: [("CSeq", "1"), ("User-Agent", "uring-relay")])
        #expect(String(decoding: m.serialized(), as: UTF8.self)
            == "OPTIONS rtsp://198.51.100.7/live RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: uring-relay\r\n\r\n")
    }

    @Test func serializesAResponseAddingContentLength() {
        let m = RTSPMessage(response: 200, headers: [("CSeq", "2"), ("Content-Type", "application/sdp")], body: Array("v=0\r\n".utf8))
        #expect(String(decoding: m.serialized(), as: UTF8.self)
            == "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n")
    }

    @Test func keepsAContentLengthAlreadyThere() {
        let m = RTSPMessage(response: 200, headers: [("content-length", "3")], body: [1, 2, 3])
        let text = String(decoding: m.serialized(), as: UTF8.self)
        #expect(text == "RTSP/1.0 200 OK\r\ncontent-length: 3\r\n\r\n\u{1}\u{2}\u{3}")
    }

    @Test func lineEndsInsideValuesCannotInjectHeaders() {
        let m = RTSPMessage(response: 400, reason: "Bad\r\nX: 1", headers: [("Session", "1\r\nCSeq: 9")])
        #expect(String(decoding: m.serialized(), as: UTF8.self) == "RTSP/1.0 400 Bad  X: 1\r\nSession: 1  CSeq: 9\r\n\r\n")
    }

    static let phrases: [(Int, String)] = [
        (200, "OK"), (400, "Bad Request"), (401, "Unauthorized"), (404, "Not Found"), (405, "Method Not Allowed"),
        (406, "Not Acceptable"), (451, "Parameter Not Understood"), (453, "Not Enough Bandwidth"),
        (454, "Session Not Found"), (455, "Method Not Valid in This State"), (459, "Aggregate operation not allowed"),
        (461, "Unsupported transport"), (500, "Internal Server Error"), (501, "Not Implemented"),
        (503, "Service Unavailable"), (505, "RTSP Version not supported"), (299, "Success"), (499, "Client Error"),
    ]

    @Test(arguments: phrases)
    func standardReasonPhrases(_ status: Int, _ phrase: String) {
        #expect(RTSPStatus.reasonPhrase(status) == phrase)
        #expect(RTSPMessage(response: status).startLine == .response(status: status, reason: phrase))
    }

    @Test func headerLookupIsCaseInsensitiveAndFirstMatch() {
        let m = RTSPMessage(response: 401, headers: [("Cseq", "7"), ("WWW-Authenticate", "Digest a"), ("www-authenticate", "Basic b")])
        #expect(m.cseq == "7")
        #expect(m.header("WWW-AUTHENTICATE") == "Digest a")
        #expect(m.headerValues("www-Authenticate") == ["Digest a", "Basic b"])
        #expect(m.header("Session") == nil)
        #expect(m.status == 401 && m.method == nil && m.uri == nil)
    }

    @Test func setHeaderReplacesOrAppends() {
        var m = RTSPMessage(request: "SETUP", uri: "rtsp://h/cam/trackID=0", headers: [("CSeq", "1"), ("cseq", "2"), ("Transport", "x")])
        m.setHeader("CSEQ", "3")
        #expect(m.headers.map(\.name) == ["CSeq", "Transport"])
        #expect(m.cseq == "3")
        m.setHeader("Session", "abc")
        #expect(m.headers.last! == (name: "Session", value: "abc"))
        #expect(m.method == "SETUP" && m.uri == "rtsp://h/cam/trackID=0" && m.status == nil)
        m.removeHeader("transport")
        #expect(m.header("Transport") == nil)
    }

    @Test func equalityComparesHeadersInOrder() {
        let a = RTSPMessage(request: "PLAY", uri: "*", headers: [("A", "1"), ("B", "2")])
        var b = a
        #expect(a == b)
        b.headers.swapAt(0, 1)
        #expect(a != b)
        b = a
        b.headers[1].value = "3"
        #expect(a != b)
        b = a
        b.body = [0]
        #expect(a != b)
    }
}
