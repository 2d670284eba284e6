import Testing
@testable import UringRelay

@Suite struct RTSPSourceClientTests {
    static let sdp = Array("""
    v=0\r
    o=- 1 1 IN IP4 198.51.100.7\r
    s=cam\r
    t=0 0\r
    m=video 0 RTP/AVP 96\r
    a=rtpmap:96 H264/90000\r
    a=control:track0\r
    m=audio 0 RTP/AVP 0\r
    a=control:track1\r

    """.utf8)

    private func response(_ status: Int, cseq: String?, _ headers: [(String, String)] = [], body: [UInt8] = []) -> RTSPMessage {
        var h = headers
        if let cseq { h.insert(("CSeq", cseq), at: 0) }
        return RTSPMessage(response: status, headers: h, body: body)
    }

    private func sent(_ events: [RTSPSourceClient.Event]) -> RTSPMessage? {
        for case .send(let m) in events { return m }
        return nil
    }

    private func uri(_ m: RTSPMessage?) -> String? {
        if case .request(_, let u)? = m?.startLine { return u }
        return nil
    }

    @Test func describesSetsUpEveryTrackOnTheCameraBaseAndPlays() {
        var c = RTSPSourceClient(url: RTSPURL.parse("rtsp://198.51.100.7:10554/tcp/av0_0")!)
        let describe = sent(c.start())!
        #expect(describe.method == "DESCRIBE" && uri(describe) == "rtsp://198.51.100.7:10554/tcp/av0_0")
        var events = c.handle(response(200, cseq: describe.cseq, [("Content-Type", "application/sdp")], body: Self.sdp))
        #expect(events.contains { if case .described = $0 { return true } else { return false } })
        let setup0 = sent(events)!
        // Not RFC 3986's /tcp/track0: cameras mean the control appended to the base.
        #expect(uri(setup0) == "rtsp://198.51.100.7:10554/tcp/av0_0/track0")
        #expect(setup0.header("Transport") == "RTP/AVP/TCP;unicast;interleaved=0-1")
        // The camera moves track 0 to channels 4-5 and sets a session with a timeout.
        events = c.handle(response(200, cseq: setup0.cseq, [("Session", "12345678;timeout=30"),
                                                             ("Transport", "RTP/AVP/TCP;unicast;interleaved=4-5")]))
        let setup1 = sent(events)!
        #expect(uri(setup1) == "rtsp://198.51.100.7:10554/tcp/av0_0/track1")
        #expect(setup1.header("Session") == "12345678")
        // No interleaved= in the reply: the pair we asked for stays.
        events = c.handle(response(200, cseq: setup1.cseq, [("Session", "12345678"), ("Transport", "RTP/AVP/TCP;unicast")]))
        let play = sent(events)!
        #expect(play.method == "PLAY" && play.header("Session") == "12345678")
        events = c.handle(response(200, cseq: play.cseq, [("Session", "12345678")]))
        guard case .playing(let tracks)? = events.first else { Issue.record("not playing: \(events)"); return }
        #expect(tracks.map(\.rtpChannel) == [4, 2] && tracks.map(\.rtcpChannel) == [5, 3])
        #expect(c.sessionTimeoutMs == 30_000)
        #expect(c.keepalive()?.header("Session") == "12345678")
    }

    @Test func contentBaseWithAQueryIsWhereTracksAreSetUp() {
        var c = RTSPSourceClient(url: RTSPURL.parse("rtsp://198.51.100.7/live?token=69154")!)
        let d = sent(c.start())!
        let body = Array("m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=0\r\n".utf8)
        let events = c.handle(response(200, cseq: d.cseq, [("Content-Base", "rtsp://198.51.100.7/live?token=69154")], body: body))
        #expect(uri(sent(events)) == "rtsp://198.51.100.7/live?token=69154/trackID=0")
    }

    @Test func retriesOnceAfter401WithCredentialsFromTheURLAndNeverPutsThemInTheURI() {
        var c = RTSPSourceClient(url: RTSPURL.parse("rtsp://user1:P%40ssword@198.51.100.7/stream")!)
        let d = sent(c.start())!
        #expect(uri(d) == "rtsp://198.51.100.7/stream")
        #expect(d.header("Authorization") == nil)
        let challenge = response(401, cseq: d.cseq, [("WWW-Authenticate", "Basic realm=\"cam\"")])
        let again = sent(c.handle(challenge))!
        #expect(again.method == "DESCRIBE" && again.cseq != d.cseq)
        // base64("user1:P@ssword")
        #expect(again.header("Authorization") == "Basic dXNlcjE6UEBzc3dvcmQ=")
        // The same challenge again: the credentials are wrong, stop.
        let events = c.handle(response(401, cseq: again.cseq, [("WWW-Authenticate", "Basic realm=\"cam\"")]))
        guard case .failed(_, let retry)? = events.first else { Issue.record("\(events)"); return }
        #expect(!retry)
    }

    @Test func a401WithoutCredentialsFails() {
        var c = RTSPSourceClient(url: RTSPURL.parse("rtsp://198.51.100.7/stream")!)
        let d = sent(c.start())!
        let events = c.handle(response(401, cseq: d.cseq, [("WWW-Authenticate", "Digest realm=\"r\", nonce=\"n\"")]))
        guard case .failed? = events.first else { Issue.record("\(events)"); return }
    }

    @Test func anErrorStatusFailsTheSessionAndRepliesToOtherCSeqsAreIgnored() {
        var c = RTSPSourceClient(url: RTSPURL.parse("rtsp://198.51.100.7/stream")!)
        let d = sent(c.start())!
        #expect(c.handle(response(200, cseq: "999")).isEmpty)
        let events = c.handle(response(404, cseq: d.cseq))
        guard case .failed(_, let retry)? = events.first else { Issue.record("\(events)"); return }
        #expect(!retry)
    }

    @Test func udpSetupAsksForTheGivenClientPorts() {
        var c = RTSPSourceClient(url: RTSPURL.parse("rtsp://198.51.100.7/s")!, transport: .udp(clientPorts: [40000, 40000]))
        let d = sent(c.start())!
        let body = Array("m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=control:trackID=0\n".utf8)
        let setup = sent(c.handle(response(200, cseq: d.cseq, body: body)))!
        #expect(setup.header("Transport") == "RTP/AVP;unicast;client_port=40000-40001")
        let play = sent(c.handle(response(200, cseq: setup.cseq, [("Session", "abc"),
                                                                  ("Transport", "RTP/AVP;unicast;client_port=40000-40001;server_port=5000-5001")])))!
        guard case .playing(let tracks)? = c.handle(response(200, cseq: play.cseq)).first else { Issue.record("not playing"); return }
        #expect(tracks[0].serverPorts?.first == 5000 && tracks[0].serverPorts?.second == 5001)
    }
}
