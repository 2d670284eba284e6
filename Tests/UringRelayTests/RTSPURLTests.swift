import Testing
@testable import UringRelay

@Suite struct RTSPURLTests {
    /// (url, user, password, host, port, explicit, path, query, requestURI)
    static let urls: [(String, String?, String?, String, Int, Bool, String, String?, String)] = [
        ("rtsp://198.51.100.7/live", nil, nil, "198.51.100.7", 554, false, "/live", nil, "rtsp://198.51.100.7/live"),
        ("rtsp://198.51.100.7", nil, nil, "198.51.100.7", 554, false, "/", nil, "rtsp://198.51.100.7/"),
        ("RTSP://Cam.Example:8554/a/b?x=1&y=2", nil, nil, "Cam.Example", 8554, true, "/a/b", "x=1&y=2",
         "rtsp://Cam.Example:8554/a/b?x=1&y=2"),
        ("rtsp://198.51.100.7?token=1", nil, nil, "198.51.100.7", 554, false, "/", "token=1", "rtsp://198.51.100.7/?token=1"),
        ("rtsp://198.51.100.7:554/live", nil, nil, "198.51.100.7", 554, true, "/live", nil, "rtsp://198.51.100.7:554/live"),
        ("rtsp://[2001:db8::7]:8554/cam", nil, nil, "2001:db8::7", 8554, true, "/cam", nil, "rtsp://[2001:db8::7]:8554/cam"),
        ("rtsp://[2001:db8::7]/cam", nil, nil, "2001:db8::7", 554, false, "/cam", nil, "rtsp://[2001:db8::7]/cam"),
        ("rtsp://admin:12345@198.51.100.7:554/Streaming/Channels/101", "admin", "12345", "198.51.100.7", 554, true,
         "/Streaming/Channels/101", nil, "rtsp://198.51.100.7:554/Streaming/Channels/101"),
        ("rtsp://admin:pa#ss@198.51.100.7:554/live", "admin", "pa#ss", "198.51.100.7", 554, true, "/live", nil,
         "rtsp://198.51.100.7:554/live"),
        ("rtsp://user1:P%40ssword@198.51.100.7/stream", "user1", "P@ssword", "198.51.100.7", 554, false, "/stream", nil,
         "rtsp://198.51.100.7/stream"),
        ("rtsp://test@123@198.51.100.7/stream", "test@123", nil, "198.51.100.7", 554, false, "/stream", nil,
         "rtsp://198.51.100.7/stream"),
        ("rtsp://admin:test@123@198.51.100.7/", "admin", "test@123", "198.51.100.7", 554, false, "/", nil,
         "rtsp://198.51.100.7/"),
        ("rtsp://admin:a:b@198.51.100.7/", "admin", "a:b", "198.51.100.7", 554, false, "/", nil, "rtsp://198.51.100.7/"),
        ("rtsp://admin:@198.51.100.7/", "admin", "", "198.51.100.7", 554, false, "/", nil, "rtsp://198.51.100.7/"),
        ("rtsp://admin:100%25@198.51.100.7/", "admin", "100%", "198.51.100.7", 554, false, "/", nil, "rtsp://198.51.100.7/"),
        ("rtsp://admin:50%off@198.51.100.7/", "admin", "50%off", "198.51.100.7", 554, false, "/", nil, "rtsp://198.51.100.7/"),
        // Rule 2: a '/' inside the password; rule 3: an '@' in the path or query.
        ("rtsp://user:pa/ss@198.51.100.7/live", "user", "pa/ss", "198.51.100.7", 554, false, "/live", nil,
         "rtsp://198.51.100.7/live"),
        ("rtsp://198.51.100.7/live@2", nil, nil, "198.51.100.7", 554, false, "/live@2", nil, "rtsp://198.51.100.7/live@2"),
        ("rtsp://u:p@198.51.100.7/live?mail=a@b", "u", "p", "198.51.100.7", 554, false, "/live", "mail=a@b",
         "rtsp://198.51.100.7/live?mail=a@b"),
        ("rtsps://cam.example/live", nil, nil, "cam.example", 322, false, "/live", nil, "rtsps://cam.example/live"),
    ]

    @Test(arguments: urls)
    func parses(_ s: String, _ user: String?, _ password: String?, _ host: String, _ port: Int, _ explicit: Bool,
                _ path: String, _ query: String?, _ requestURI: String) throws {
        let u = try #require(RTSPURL.parse(s), "\(s)")
        #expect(u.user == user, "\(s)")
        #expect(u.password == password, "\(s)")
        #expect(u.host == host, "\(s)")
        #expect(u.port == port && u.explicitPort == explicit, "\(s)")
        #expect(u.path == path, "\(s)")
        #expect(u.query == query, "\(s)")
        #expect(u.requestURI == requestURI, "\(s)")
        #expect(u.isSecure == s.hasPrefix("rtsps"), "\(s)")
    }

    static let invalid = [
        "http://198.51.100.7/live", "rtsp:/198.51.100.7/live", "198.51.100.7/live", "rtsp://", "rtsp:///live",
        "rtsp://198.51.100.7:0/", "rtsp://198.51.100.7:65536/", "rtsp://198.51.100.7:55a/", "rtsp://2001:db8::7/cam",
        "rtsp://[2001:db8::7/cam", "rtsp://198.51.100.7/li ve", "rtsp://user@/live",
    ]

    @Test(arguments: invalid)
    func rejects(_ s: String) {
        #expect(RTSPURL.parse(s) == nil, "\(s)")
    }

    @Test func requestURINeverCarriesCredentials() throws {
        let u = try #require(RTSPURL.parse("rtsp://admin:secret@198.51.100.7:10554/tcp/av0_0"))
        #expect(!u.requestURI.contains("admin") && !u.requestURI.contains("secret"))
        #expect(u.resolving(control: "track0") == "rtsp://198.51.100.7:10554/tcp/av0_0/track0")
    }

    /// (base, control, resolved)
    static let controls: [(String, String, String)] = [
        ("rtsp://198.51.100.7:10554/tcp/av0_0", "track0", "rtsp://198.51.100.7:10554/tcp/av0_0/track0"),
        ("rtsp://198.51.100.7/live?token=69154", "trackID=0", "rtsp://198.51.100.7/live?token=69154/trackID=0"),
        ("rtsp://198.51.100.7/live/", "trackID=1", "rtsp://198.51.100.7/live/trackID=1"),
        ("rtsp://198.51.100.7/live/", "/trackID=1", "rtsp://198.51.100.7/live/trackID=1"),
        ("rtsp://198.51.100.7/live", "/trackID=1", "rtsp://198.51.100.7/live/trackID=1"),
        ("rtsp://198.51.100.7/live", "?ctype=video", "rtsp://198.51.100.7/live?ctype=video"),
        ("rtsp://198.51.100.7/live", "*", "rtsp://198.51.100.7/live"),
        ("rtsp://198.51.100.7/live", "", "rtsp://198.51.100.7/live"),
        ("rtsp://198.51.100.7/live", "rtsp://198.51.100.8/other/trackID=3", "rtsp://198.51.100.8/other/trackID=3"),
        ("rtsp://198.51.100.7/live", "RTSP://198.51.100.8/x", "RTSP://198.51.100.8/x"),
        ("rtsp://u:p@[2001:db8::7]:8554/cam", "trackID=0", "rtsp://[2001:db8::7]:8554/cam/trackID=0"),
    ]

    @Test(arguments: controls)
    func resolvesControlTheWayCamerasExpect(_ base: String, _ control: String, _ resolved: String) throws {
        let u = try #require(RTSPURL.parse(base))
        #expect(u.resolving(control: control) == resolved, "\(base) + \(control)")
    }

    /// (request URI, path, track)
    static let serverURIs: [(String, String, Int?)] = [
        ("rtsp://h:8554/cam", "cam", nil),
        ("rtsp://h:8554/cam/", "cam", nil),
        ("rtsp://h:8554/cam/trackID=0", "cam", 0),
        ("rtsp://h/cam/trackID=1/", "cam", 1),
        ("rtsp://user:p@h/cam", "cam", nil),
        ("rtsp://h/site/cam1/track2", "site/cam1", 2),
        ("rtsp://h/site//cam1/track=3?x=1", "site/cam1", 3),
        ("rtsp://h/cam/streamid=0", "cam", 0),
        ("rtsp://h/cam?token=1", "cam", nil),
        ("rtsp://h/cam/trackIDx", "cam/trackIDx", nil),
        ("/cam/trackID=0", "cam", 0),
        ("/cam?x", "cam", nil),
        ("*", "", nil),
        ("rtsp://h/", "", nil),
    ]

    @Test(arguments: serverURIs)
    func findsPathAndTrack(_ uri: String, _ path: String, _ track: Int?) throws {
        let r = try #require(RTSPURL.pathAndTrack(ofRequestURI: uri), "\(uri)")
        #expect(r.path == path, "\(uri)")
        #expect(r.track == track, "\(uri)")
    }

    @Test func rejectsOtherRequestURIs() {
        #expect(RTSPURL.pathAndTrack(ofRequestURI: "http://h/cam") == nil)
        #expect(RTSPURL.pathAndTrack(ofRequestURI: "cam") == nil)
    }
}
