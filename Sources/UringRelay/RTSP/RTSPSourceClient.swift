/// The relay's side of one RTSP session towards a camera (or another relay): DESCRIBE, SETUP
/// for every track, PLAY, then keepalives until TEARDOWN. Pure: responses in, requests and
/// events out; the worker moves the bytes, owns the timers and frames the media.
///
/// One request at a time (cameras handle pipelining badly). A 401 is answered once per
/// challenge with credentials from the URL (Basic or Digest, `RTSPAuthenticator`); every later
/// request carries them. Camera quirks handled here: the SETUP reply may move the interleaved
/// channels (use what it says) or leave them out (keep what we asked); the session timeout
/// comes from `Session: id;timeout=N`; track URLs are resolved against Content-Base, else
/// Content-Location, else the request URL, the way cameras expect (`RTSPURL.resolving`).
public struct RTSPSourceClient: Sendable {
    public enum Transport: Sendable, Equatable {
        case tcp
        /// Local RTP ports per track (RTCP on port + 1), chosen by the worker.
        case udp(clientPorts: [Int])
    }

    /// What one track's SETUP settled.
    public struct TrackSetup: Sendable, Equatable {
        /// Interleaved channels (TCP) for RTP and RTCP.
        public var rtpChannel: Int
        public var rtcpChannel: Int
        /// The source's UDP ports (UDP transport), RTCP included when it said.
        public var serverPorts: RTSPPortPair?
        public var ssrc: UInt32?
    }

    public enum Event: Sendable, Equatable {
        case send(RTSPMessage)
        /// DESCRIBE answered: the tracks the source offers. The worker may reject them
        /// (e.g. a reconnect that changed the track count) by failing the session.
        case described(SessionDescription)
        /// PLAY answered: media flows from now on.
        case playing([TrackSetup])
        /// The session cannot go on; `retry` says whether reconnecting may help (a 404 or
        /// wrong credentials will not, but the worker still backs off and tries again since
        /// cameras come back).
        case failed(String, retry: Bool)
    }

    public enum State: Sendable, Equatable {
        case idle, describing, settingUp(track: Int), starting, playing, closed
    }

    public let url: RTSPURL
    public let transport: Transport
    public let userAgent: String
    public private(set) var state: State = .idle
    public private(set) var description: SessionDescription?
    public private(set) var tracks: [TrackSetup] = []
    /// Session id and timeout from the source's Session header.
    public private(set) var sessionID: String?
    public private(set) var sessionTimeoutMs: Int = 60_000
    /// Whether the source listed GET_PARAMETER in its Public header (keepalives use it then;
    /// OPTIONS otherwise, which every server answers).
    public private(set) var supportsGetParameter = false

    private var authenticator: RTSPAuthenticator?
    private var nextCSeq = 1
    /// The request awaiting its reply: what to resend after a 401.
    private var outstanding: RTSPMessage?
    private var baseURL: RTSPURL
    private var trackURLs: [String] = []

    public init(url: RTSPURL, transport: Transport = .tcp, userAgent: String = "uring-relay") {
        self.url = url
        self.transport = transport
        self.userAgent = userAgent
        baseURL = url
        if let user = url.user {
            authenticator = RTSPAuthenticator(user: user, password: url.password ?? "")
        }
    }

    /// The first request, once the TCP connection is up.
    public mutating func start() -> [Event] {
        state = .describing
        return [.send(request("DESCRIBE", uri: url.requestURI, extra: [("Accept", "application/sdp")]))]
    }

    /// A keepalive request, when no request is outstanding (nil otherwise or when not playing).
    public mutating func keepalive() -> RTSPMessage? {
        guard state == .playing, outstanding == nil else { return nil }
        return request(supportsGetParameter ? "GET_PARAMETER" : "OPTIONS", uri: baseURIForAggregate)
    }

    /// TEARDOWN, if a session was set up.
    public mutating func teardown() -> RTSPMessage? {
        guard sessionID != nil, state != .closed else { return nil }
        let m = request("TEARDOWN", uri: baseURIForAggregate)
        state = .closed
        outstanding = nil
        return m
    }

    public mutating func handle(_ response: RTSPMessage) -> [Event] {
        guard let status = response.status else {
            // A request from the source (some send OPTIONS or ANNOUNCE as keepalives): not
            // for us to act on; the worker answers it.
            return []
        }
        guard let sent = outstanding else { return [] }  // an answer to a keepalive we forgot, or junk
        if let cseq = response.cseq, let ours = sent.cseq, cseq.trimmingSpaces != ours { return [] }
        outstanding = nil
        if status == 401 {
            guard var auth = authenticator else {
                return fail("\(sent.method ?? "request") needs credentials (401) and the URL has none", retry: false)
            }
            guard auth.handle401(response) else {
                return fail("\(sent.method ?? "request"): credentials refused (401)", retry: false)
            }
            authenticator = auth
            var again = sent
            again.setHeader("CSeq", String(takeCSeq()))
            if let uri = requestURI(of: again), let value = authenticator?.authorization(method: again.method ?? "", uri: uri) {
                again.setHeader("Authorization", value)
            }
            outstanding = again
            return [.send(again)]
        }
        if sent.method == "GET_PARAMETER" || sent.method == "OPTIONS" {
            if state == .playing {
                // A keepalive: its status does not matter as long as the source answers.
                return []
            }
        }
        guard (200..<300).contains(status) else {
            let what = "\(sent.method ?? "request") \(requestURI(of: sent) ?? "") answered \(status)"
            return fail(what, retry: status >= 500 || status == 454)
        }
        noteSession(response)
        switch state {
        case .describing:
            return described(response)
        case .settingUp(let index):
            return setUp(index, response)
        case .starting:
            state = .playing
            return [.playing(tracks)]
        case .idle, .playing, .closed:
            return []
        }
    }

    private mutating func described(_ response: RTSPMessage) -> [Event] {
        if let pub = response.header("Public") { notePublic(pub) }
        guard let sdp = SessionDescription.parse(response.body), !sdp.media.isEmpty else {
            return fail("DESCRIBE: the source's SDP has no media", retry: true)
        }
        description = sdp
        for name in ["Content-Base", "Content-Location"] {
            if let v = response.header(name), let u = RTSPURL.parse(v.trimmingSpaces) {
                baseURL = u
                break
            }
        }
        trackURLs = sdp.media.map { baseURL.resolving(control: $0.control ?? "") }
        tracks = []
        var events: [Event] = [.described(sdp)]
        events += setupRequest(0)
        return events
    }

    private mutating func setupRequest(_ index: Int) -> [Event] {
        state = .settingUp(track: index)
        var spec: String
        switch transport {
        case .tcp:
            spec = "RTP/AVP/TCP;unicast;interleaved=\(2 * index)-\(2 * index + 1)"
        case .udp(let ports):
            guard index < ports.count else {
                return fail("the source has \(trackURLs.count) tracks, more than the \(ports.count) UDP port pairs we have for it", retry: false)
            }
            spec = "RTP/AVP;unicast;client_port=\(ports[index])-\(ports[index] + 1)"
        }
        var extra = [("Transport", spec)]
        if let sessionID { extra.append(("Session", sessionID)) }
        return [.send(request("SETUP", uri: trackURLs[index], extra: extra))]
    }

    private mutating func setUp(_ index: Int, _ response: RTSPMessage) -> [Event] {
        var setup = TrackSetup(rtpChannel: 2 * index, rtcpChannel: 2 * index + 1, serverPorts: nil, ssrc: nil)
        if let value = response.header("Transport"), let t = RTSPTransport.parseList(value).first {
            if case .tcp = transport, let pair = t.interleaved {
                // The camera may move the channels: what it says is what it will send on.
                setup.rtpChannel = pair.first
                setup.rtcpChannel = pair.second ?? pair.first + 1
            }
            setup.serverPorts = t.serverPort
            setup.ssrc = t.ssrc
        }
        if case .tcp = transport {
            let used = tracks.flatMap { [$0.rtpChannel, $0.rtcpChannel] }
            guard (0...255).contains(setup.rtpChannel), (0...255).contains(setup.rtcpChannel),
                  !used.contains(setup.rtpChannel), !used.contains(setup.rtcpChannel) else {
                return fail("SETUP track \(index): the source answered interleaved channels \(setup.rtpChannel)-\(setup.rtcpChannel), unusable", retry: true)
            }
        }
        tracks.append(setup)
        if index + 1 < trackURLs.count { return setupRequest(index + 1) }
        state = .starting
        return [.send(request("PLAY", uri: baseURIForAggregate, extra: [("Range", "npt=0.000-")] + sessionHeader))]
    }

    private var sessionHeader: [(String, String)] { sessionID.map { [("Session", $0)] } ?? [] }

    /// The aggregate control URL: the session's base (Content-Base), as cameras expect PLAY,
    /// keepalives and TEARDOWN on it.
    private var baseURIForAggregate: String {
        if let c = description?.sessionControl, c != "*", !c.isEmpty { return baseURL.resolving(control: c) }
        return baseURL.requestURI
    }

    private mutating func noteSession(_ response: RTSPMessage) {
        guard let value = response.header("Session") else { return }
        let parts = value.split(separator: ";")
        if let id = parts.first?.trimmingSpaces, !id.isEmpty { sessionID = id }
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].trimmingSpaces.lowercased() == "timeout", let s = Int(kv[1].trimmingSpaces), s > 0 {
                sessionTimeoutMs = min(s, 3600) * 1000
            }
        }
    }

    private mutating func notePublic(_ value: String) {
        supportsGetParameter = value.split(separator: ",").contains { $0.trimmingSpaces.uppercased() == "GET_PARAMETER" }
    }

    private mutating func fail(_ reason: String, retry: Bool) -> [Event] {
        state = .closed
        outstanding = nil
        return [.failed(reason, retry: retry)]
    }

    private mutating func takeCSeq() -> Int {
        defer { nextCSeq += 1 }
        return nextCSeq
    }

    private mutating func request(_ method: String, uri: String, extra: [(String, String)] = []) -> RTSPMessage {
        var headers: [(String, String)] = [("CSeq", String(takeCSeq())), ("User-Agent", userAgent)]
        headers += extra
        if method != "SETUP" && method != "DESCRIBE" && !extra.contains(where: { $0.0 == "Session" }), let sessionID {
            headers.append(("Session", sessionID))
        }
        if var auth = authenticator, let value = auth.authorization(method: method, uri: uri) {
            authenticator = auth
            headers.append(("Authorization", value))
        }
        let m = RTSPMessage(request: method, uri: uri, headers: headers)
        outstanding = m
        return m
    }

    private func requestURI(of m: RTSPMessage) -> String? {
        if case .request(_, let uri) = m.startLine { return uri }
        return nil
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
