import Testing
@testable import UringRelay

@Suite struct SessionDescriptionTests {
    /// Joins lines with CRLF and a final CRLF, as an RTSP body carries them.
    static func crlf(_ lines: [String]) -> [UInt8] { Array(lines.map { $0 + "\r\n" }.joined().utf8) }
    static func lf(_ lines: [String]) -> [UInt8] { Array(lines.map { $0 + "\n" }.joined().utf8) }

    static let h264Fmtp = "96 packetization-mode=1;profile-level-id=42c01e;sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg=="

    /// A GStreamer rtsp-server DESCRIBE answer (gst-rtsp-server 1.2x, H.264 + Opus), by hand.
    static let gstreamer = crlf([
        "v=0",
        "o=- 1188340656180883 1 IN IP4 198.51.100.20",
        "s=Session streamed with GStreamer",
        "i=rtsp-server",
        "t=0 0",
        "a=tool:GStreamer",
        "a=type:broadcast",
        "a=control:*",
        "a=range:npt=now-",
        "m=video 0 RTP/AVP 96",
        "c=IN IP4 0.0.0.0",
        "b=AS:2000",
        "a=rtpmap:96 H264/90000",
        "a=framerate:30",
        "a=fmtp:" + h264Fmtp,
        "a=control:stream=0",
        "a=ts-refclk:local",
        "a=mediaclk:sender",
        "m=audio 0 RTP/AVP 97",
        "c=IN IP4 0.0.0.0",
        "a=rtpmap:97 OPUS/48000/2",
        "a=fmtp:97 sprop-stereo=0",
        "a=control:stream=1",
        "a=sendonly",
    ])

    /// What `ffmpeg -re -i in.mp4 -c copy -f rtsp rtsp://relay/path` ANNOUNCEs (libavformat 60), by hand.
    static let ffmpegAnnounce = crlf([
        "v=0",
        "o=- 0 0 IN IP4 127.0.0.1",
        "s=No Name",
        "c=IN IP4 198.51.100.30",
        "t=0 0",
        "a=tool:libavformat 60.16.100",
        "m=video 0 RTP/AVP 96",
        "b=AS:1200",
        "a=rtpmap:96 H264/90000",
        "a=fmtp:" + h264Fmtp,
        "a=control:streamid=0",
        "m=audio 0 RTP/AVP 97",
        "b=AS:128",
        "a=rtpmap:97 MPEG4-GENERIC/44100/2",
        "a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=121056E500",
        "a=control:streamid=1",
    ])

    struct Expected: Sendable {
        var types: [String]
        var controls: [String?]
        var rtpmaps: [String?]
        var clockRates: [Int?]
        var sessionControl: String? = nil
        var sessionName: String? = nil
    }

    /// Every SDP quirk of shared/cases/rtsp.md, each in an otherwise plausible camera SDP.
    static let quirks: [(String, [UInt8], Expected)] = [
        ("origin with an empty address", crlf([
            "v=0", "o=RTSP 1638123456 1638123456 IN IP4 ", "s=RTSP Session", "t=0 0", "a=control:*",
            "m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=control:trackID=0",
            "m=audio 0 RTP/AVP 8", "a=control:trackID=1",
        ]), Expected(types: ["video", "audio"], controls: ["trackID=0", "trackID=1"],
                     rtpmaps: ["96 H264/90000", nil], clockRates: [90000, 8000], sessionControl: "*",
                     sessionName: "RTSP Session")),
        ("no v= line", crlf([
            "o=- 1 1 IN IP4 198.51.100.7", "s=Media Presentation", "t=0 0",
            "m=video 0 RTP/AVP 96", "a=control:track0", "a=rtpmap:96 H264/90000",
        ]), Expected(types: ["video"], controls: ["track0"], rtpmaps: ["96 H264/90000"], clockRates: [90000],
                     sessionName: "Media Presentation")),
        ("no s= line", crlf([
            "v=0", "o=- 1 1 IN IP4 198.51.100.7", "t=0 0", "a=control:*",
            "m=video 0 RTP/AVP 96", "a=rtpmap:96 H265/90000", "a=control:trackID=1",
        ]), Expected(types: ["video"], controls: ["trackID=1"], rtpmaps: ["96 H265/90000"], clockRates: [90000],
                     sessionControl: "*")),
        ("origin with a fractional session id and host:port", crlf([
            "v=0", "o=- 1698210484.879535 1 IN IP4 198.51.100.7:12626", "s=Stream", "t=0 0",
            "m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=control:rtsp://198.51.100.7:12626/live/trackID=0",
        ]), Expected(types: ["video"], controls: ["rtsp://198.51.100.7:12626/live/trackID=0"],
                     rtpmaps: ["96 H264/90000"], clockRates: [90000], sessionName: "Stream")),
        ("t=now-", crlf([
            "v=0", "o=- 1 1 IN IP4 198.51.100.7", "s=Live", "t=now-",
            "m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=control:video",
        ]), Expected(types: ["video"], controls: ["video"], rtpmaps: ["96 H264/90000"], clockRates: [90000],
                     sessionName: "Live")),
        ("c= without an address type", crlf([
            "v=0", "o=- 1 1 IN IP4 198.51.100.1", "s=Live", "c=IN 198.51.100.1", "t=0 0",
            "m=video 0 RTP/AVP 96", "c=IN 198.51.100.1", "a=rtpmap:96 H264/90000", "a=control:trackID=0",
        ]), Expected(types: ["video"], controls: ["trackID=0"], rtpmaps: ["96 H264/90000"], clockRates: [90000],
                     sessionName: "Live")),
        ("origin with network type IP", crlf([
            "v=0", "o=StreamingServer 3331435948 1116907222000 IP IP4 198.51.100.7", "s=h264.mp4", "t=0 0",
            "a=control:*", "m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=control:trackID=3",
        ]), Expected(types: ["video"], controls: ["trackID=3"], rtpmaps: ["96 H264/90000"], clockRates: [90000],
                     sessionControl: "*", sessionName: "h264.mp4")),
        ("hex session id", crlf([
            "v=0", "o=cam 0xAC4EC96E 1 IN IP4 198.51.100.7", "s=cam", "t=0 0",
            "m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=control:trackID=0",
            "m=audio 0 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", "a=control:trackID=1",
        ]), Expected(types: ["video", "audio"], controls: ["trackID=0", "trackID=1"],
                     rtpmaps: ["96 H264/90000", "0 PCMU/8000"], clockRates: [90000, 8000], sessionName: "cam")),
        ("LF-only line endings", lf([
            "v=0", "o=- 1 1 IN IP4 198.51.100.7", "s=lf", "t=0 0", "a=control:*",
            "m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=control:trackID=0",
            "m=application 0 RTP/AVP 107", "a=rtpmap:107 vnd.onvif.metadata/90000", "a=control:trackID=2",
        ]), Expected(types: ["video", "application"], controls: ["trackID=0", "trackID=2"],
                     rtpmaps: ["96 H264/90000", "107 vnd.onvif.metadata/90000"], clockRates: [90000, 90000],
                     sessionControl: "*", sessionName: "lf")),
        ("every quirk at once, LF-only, trailing spaces", lf([
            "o=RTSP 1638123456 1638123456 IP IP4 ", "t=now-  ", "c=IN 198.51.100.1 ",
            "m=video 0 RTP/AVP 96  ", "a=rtpmap:96 H264/90000 ", "a=control:trackID=0\t",
        ]), Expected(types: ["video"], controls: ["trackID=0"], rtpmaps: ["96 H264/90000"], clockRates: [90000])),
        ("GStreamer", gstreamer, Expected(types: ["video", "audio"], controls: ["stream=0", "stream=1"],
                                           rtpmaps: ["96 H264/90000", "97 OPUS/48000/2"], clockRates: [90000, 48000],
                                           sessionControl: "*", sessionName: "Session streamed with GStreamer")),
        ("ffmpeg ANNOUNCE", ffmpegAnnounce, Expected(types: ["video", "audio"], controls: ["streamid=0", "streamid=1"],
                                                      rtpmaps: ["96 H264/90000", "97 MPEG4-GENERIC/44100/2"],
                                                      clockRates: [90000, 44100], sessionName: "No Name")),
    ]

    @Test(arguments: quirks)
    func parsesCameraQuirks(_ name: String, _ bytes: [UInt8], _ expected: Expected) throws {
        let sdp = try #require(SessionDescription.parse(bytes), "\(name)")
        #expect(sdp.media.map(\.type) == expected.types, "\(name)")
        #expect(sdp.media.map(\.control) == expected.controls, "\(name)")
        #expect(sdp.media.map(\.rtpmap) == expected.rtpmaps, "\(name)")
        #expect(sdp.media.map(\.clockRate) == expected.clockRates, "\(name)")
        #expect(sdp.sessionControl == expected.sessionControl, "\(name)")
        #expect(sdp.sessionName == expected.sessionName, "\(name)")
        // The same body with the other line ending parses the same.
        let text = String(decoding: bytes, as: UTF8.self)
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
        #expect(SessionDescription.parse(Self.crlf(lines)) == sdp, "\(name) with CRLF")
        #expect(SessionDescription.parse(Self.lf(lines)) == sdp, "\(name) with LF")
    }

    @Test func readsMediaFieldsOfGStreamer() throws {
        let sdp = try #require(SessionDescription.parse(Self.gstreamer))
        let video = sdp.media[0]
        #expect(video.port == 0 && video.proto == "RTP/AVP" && video.formats == ["96"])
        #expect(video.payloadType == 96 && video.encodingName == "H264" && video.clockRate == 90000)
        #expect(video.fmtp == Self.h264Fmtp)
        #expect(video.attribute("framerate") == "30")
        #expect(video.attributes.map(\.name) == ["rtpmap", "framerate", "fmtp", "control", "ts-refclk", "mediaclk"])
        let audio = sdp.media[1]
        #expect(audio.encodingName == "OPUS" && audio.hasAttribute("sendonly") && audio.attribute("sendonly") == nil)
        #expect(sdp.sessionAttributes.map(\.name) == ["tool", "type", "control", "range"])
        #expect(sdp.sessionAttributes[3].value == "npt=now-")
    }

    @Test func staticPayloadTypesWithoutRtpmap() throws {
        let sdp = try #require(SessionDescription.parse(Self.crlf([
            "m=audio 0 RTP/AVP 0", "m=audio 0 RTP/AVP 8", "m=video 0 RTP/AVP 26", "m=video 0 RTP/AVP 96",
            "m=audio 0 RTP/AVP 8", "a=rtpmap:8 PCMA/16000",
        ])))
        #expect(sdp.media.map(\.clockRate) == [8000, 8000, 90000, nil, 16000])
        #expect(sdp.media.map(\.encodingName) == ["PCMU", "PCMA", "JPEG", nil, "PCMA"])
    }

    @Test func rtpmapAndFmtpOfTheFirstFormat() throws {
        // Several formats: the maps of the first one count, whatever their order.
        let sdp = try #require(SessionDescription.parse(Self.crlf([
            "m=video 0 RTP/AVP 97 96", "a=rtpmap:96 H264/90000", "a=rtpmap:97 H265/90000",
            "a=fmtp:96 packetization-mode=1", "a=fmtp:97 sprop-vps=QAEMAf//",
            "m=video 0 RTP/AVP 98", "a=rtpmap:96  H264/90000",
        ])))
        #expect(sdp.media[0].rtpmap == "97 H265/90000" && sdp.media[0].encodingName == "H265")
        #expect(sdp.media[0].fmtp == "97 sprop-vps=QAEMAf//")
        // None names the format: the first map is taken (and two spaces after the type are fine).
        #expect(sdp.media[1].rtpmap == "96  H264/90000" && sdp.media[1].clockRate == 90000)
    }

    @Test func oddMediaLines() throws {
        let sdp = try #require(SessionDescription.parse(Self.crlf([
            "m=video 5004/2 RTP/AVP 96", "m=audio x RTP/AVP", "m=text", "m=", "a=control:lost",
            "m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/abc", "a=control:", "a=x-flag", "junk line", "=nothing",
        ])))
        #expect(sdp.media.map(\.type) == ["video", "audio", "text", "video"])
        #expect(sdp.media.map(\.port) == [5004, 0, 0, 0])
        #expect(sdp.media[1].formats.isEmpty && sdp.media[2].proto.isEmpty && sdp.media[1].payloadType == nil)
        #expect(sdp.media[3].clockRate == nil && sdp.media[3].encodingName == "H264")
        #expect(sdp.media[3].control == "" && sdp.media[3].hasAttribute("x-flag"))
        #expect(sdp.sessionAttributes.isEmpty)  // the a= after an empty m= is not the session's
    }

    @Test func returnsNilWithoutMediaOrText() {
        #expect(SessionDescription.parse([]) == nil)
        #expect(SessionDescription.parse(Self.crlf(["v=0", "o=- 1 1 IN IP4 1.2.3.4", "s=x", "t=0 0"])) == nil)
        #expect(SessionDescription.parse(Self.crlf(["m=video 0 RTP/AVP 96"]) + [0] + Self.crlf(["a=x"])) == nil)
        #expect(SessionDescription.parse(Self.crlf(["m=video 0 RTP/AVP 96", "a=ok\u{1}"])) == nil)
        #expect(SessionDescription.parse([0x80, 0x60, 0x00, 0x01] + Self.crlf(["m=video 0 RTP/AVP 96"])) == nil)
        #expect(SessionDescription.parse([UInt8](repeating: 0x61, count: SessionDescription.maxLengthBytes + 1)) == nil)
    }

    @Test func trailingNULIsTolerated() throws {
        let sdp = try #require(SessionDescription.parse(Self.crlf(["m=video 0 RTP/AVP 96", "a=control:a"]) + [0]))
        #expect(sdp.media.count == 1 && sdp.media[0].control == "a")
    }

    @Test func bomAndBareCRAreTolerated() throws {
        let sdp = try #require(SessionDescription.parse([0xEF, 0xBB, 0xBF] + Array("v=0\rm=video 0 RTP/AVP 96\ra=control:a\r".utf8)))
        #expect(sdp.media.count == 1 && sdp.media[0].control == "a")
    }

    @Test func limitsMediaCount() throws {
        let lines = (0..<(SessionDescription.maxMediaCount + 5)).flatMap { ["m=audio 0 RTP/AVP 0", "a=control:t\($0)"] }
        let sdp = try #require(SessionDescription.parse(Self.crlf(lines)))
        #expect(sdp.media.count == SessionDescription.maxMediaCount)
        #expect(sdp.media.last?.control == "t\(SessionDescription.maxMediaCount - 1)")
    }

    // MARK: cleanSDP

    @Test func cleanSDPOfGStreamer() throws {
        let sdp = try #require(SessionDescription.parse(Self.gstreamer))
        let clean = String(decoding: sdp.cleanSDP(sessionName: "cam1", originAddress: "192.0.2.1", sessionID: 42), as: UTF8.self)
        #expect(clean == [
            "v=0", "o=- 42 1 IN IP4 192.0.2.1", "s=cam1", "c=IN IP4 0.0.0.0", "t=0 0", "a=control:*", "a=tool:uring-relay",
            "m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=framerate:30", "a=fmtp:" + Self.h264Fmtp,
            "a=ts-refclk:local", "a=mediaclk:sender", "a=control:trackID=0",
            "m=audio 0 RTP/AVP 97", "a=rtpmap:97 OPUS/48000/2", "a=fmtp:97 sprop-stereo=0", "a=control:trackID=1",
        ].map { $0 + "\r\n" }.joined())
    }

    @Test func cleanSDPDropsSourceTransportAndDirection() throws {
        let sdp = try #require(SessionDescription.parse(Self.crlf([
            "v=0", "s=x", "m=video 5000 RTP/SAVP 96", "c=IN IP4 203.0.113.5", "a=rtpmap:96 H264/90000",
            "a=recvonly", "a=SENDONLY", "a=sendrecv", "a=inactive", "a=range:npt=0-", "a=rtcp:5001", "a=rtcp-mux",
            "a=ssrc:1234 cname:x", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc", "a=control:trackID=7",
            "a=framesize:96 1920-1080", "a=x-dimensions:1920,1080",
        ])))
        let clean = String(decoding: sdp.cleanSDP(sessionName: "", originAddress: "[2001:db8::1]", sessionID: 7), as: UTF8.self)
        #expect(clean == [
            "v=0", "o=- 7 1 IN IP6 2001:db8::1", "s= ", "c=IN IP6 ::", "t=0 0", "a=control:*", "a=tool:uring-relay",
            "m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=framesize:96 1920-1080", "a=x-dimensions:1920,1080",
            "a=control:trackID=0",
        ].map { $0 + "\r\n" }.joined())
    }

    @Test(arguments: quirks)
    func cleanSDPReparsesToTheSameMedia(_ name: String, _ bytes: [UInt8], _ expected: Expected) throws {
        let sdp = try #require(SessionDescription.parse(bytes))
        let clean = sdp.cleanSDP(sessionName: "relay", originAddress: "198.51.100.99", sessionID: UInt64.max)
        #expect(!clean.contains(0x0A) || zip(clean.dropFirst(), clean).allSatisfy { $0 != 0x0A || $1 == 0x0D }, "\(name): CRLF only")
        let again = try #require(SessionDescription.parse(clean), "\(name)")
        #expect(again.sessionName == "relay" && again.sessionControl == "*")
        #expect(again.media.count == sdp.media.count, "\(name)")
        for (i, (a, b)) in zip(sdp.media, again.media).enumerated() {
            #expect(a.type == b.type && a.formats == b.formats, "\(name) #\(i)")
            #expect(a.rtpmap == b.rtpmap && a.fmtp == b.fmtp && a.clockRate == b.clockRate, "\(name) #\(i)")
            #expect(b.control == "trackID=\(i)" && b.proto == "RTP/AVP" && b.port == 0, "\(name) #\(i)")
        }
        // Serving the clean SDP again changes nothing: it is a fixed point.
        #expect(again.cleanSDP(sessionName: "relay", originAddress: "198.51.100.99", sessionID: UInt64.max) == clean)
    }

    @Test func cleanSDPNeverInjectsLines() {
        let sdp = SessionDescription(media: [SessionDescription.Media(
            type: "video", formats: ["96"], attributes: [(name: "rtpmap", value: "96 H264/90000\r\na=evil")])])
        let clean = String(decoding: sdp.cleanSDP(sessionName: "a\r\nb=1", originAddress: "192.0.2.1", sessionID: 1), as: UTF8.self)
        #expect(clean.contains("s=ab=1\r\n") && clean.contains("a=rtpmap:96 H264/90000a=evil\r\n"))
    }

    @Test func equalityComparesAttributes() {
        let a = SessionDescription.Media(type: "video", formats: ["96"], attributes: [(name: "control", value: "x")])
        var b = a
        #expect(a == b)
        b.attributes[0].value = "y"
        #expect(a != b)
        b.attributes[0].value = nil
        #expect(a != b)
    }
}
