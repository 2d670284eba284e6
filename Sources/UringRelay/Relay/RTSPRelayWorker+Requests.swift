import Glibc

/// The server side (RFC 2326): requests from readers and publishers.
extension RTSPRelayWorker {
    /// Tracks a path may have: what a real stream needs, with room (video, audio, metadata…).
    static var maxTracks: Int { 16 }

    static var publicMethods: String {
        "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER, ANNOUNCE, RECORD"
    }

    func request(_ m: RTSPMessage, _ index: Int, _ conn: RTSPConnection) {
        guard case .request(let method, let uri) = m.startLine else {
            return  // a response from a client: nothing of ours asked for it
        }
        guard m.cseq != nil else {
            // Without a CSeq no reply can be matched to its request: say so and hang up.
            reply(m, 400, index, conn, reason: "Bad Request (no CSeq)", headers: [("Connection", "close")])
            conn.closeAfterFlush = true
            return flush(index, conn)
        }
        if let session = m.header("Session").flatMap(sessionID(ofHeader:)), let s = sessions[session] {
            s.lastActivityMs = nowMs
        }
        // RFC 2326 §12.32: we support no option tags, so any Require is refused by name.
        if let required = m.header("Require"), !required.trimmingSpaces.isEmpty {
            return reply(m, 551, index, conn, reason: "Option not supported", headers: [("Unsupported", required.trimmingSpaces)])
        }
        // Method names are case-sensitive (RFC 2326 §6.1): "options" is no method of ours.
        switch method {
        case "OPTIONS":
            reply(m, 200, index, conn, headers: [("Public", Self.publicMethods)])
        case "DESCRIBE":
            describe(m, uri, index, conn)
        case "SETUP":
            setup(m, uri, index, conn)
        case "PLAY":
            play(m, uri, index, conn)
        case "PAUSE":
            pause(m, index, conn)
        case "TEARDOWN":
            teardown(m, index, conn)
        case "GET_PARAMETER", "SET_PARAMETER":
            keepalive(m, index, conn)
        case "ANNOUNCE":
            announce(m, uri, index, conn)
        case "RECORD":
            record(m, index, conn)
        case "REDIRECT":
            reply(m, 405, index, conn, headers: [("Allow", Self.publicMethods)])
        default:
            reply(m, 501, index, conn, headers: [("Public", Self.publicMethods)])
        }
    }

    /// Sends a response to `request` (CSeq echoed, our Server header, extra headers).
    func reply(_ request: RTSPMessage, _ status: Int, _ index: Int, _ conn: RTSPConnection, reason: String? = nil,
               headers: [(String, String)] = [], body: [UInt8] = []) {
        var h: [(String, String)] = [("CSeq", request.cseq ?? "0")]
        h += headers
        h.append(("Server", serverName))
        respond(RTSPMessage(response: status, reason: reason, headers: h, body: body), index, conn)
    }

    func sessionID(ofHeader value: String) -> String? {
        let id = value.split(separator: ";").first.map { $0.trimmingSpaces } ?? ""
        return id.isEmpty ? nil : id
    }

    /// The session a request names: nil and a reply sent (454) when it names an unknown one.
    private func namedSession(_ m: RTSPMessage, _ index: Int, _ conn: RTSPConnection, required: Bool) -> (found: Bool, session: RTSPSession?) {
        guard let value = m.header("Session") else {
            if required { reply(m, 454, index, conn, reason: "Session Not Found (no Session header)") }
            return (!required, nil)
        }
        guard let id = sessionID(ofHeader: value), let s = sessions[id] else {
            reply(m, 454, index, conn)
            return (false, nil)
        }
        return (true, s)
    }

    private func sessionHeader(_ s: RTSPSession) -> (String, String) {
        ("Session", "\(s.id);timeout=\(config.sessionTimeoutMs / 1000)")
    }

    /// The path (and track) a request-URI names; nil when it names none of ours.
    private func target(_ uri: String) -> (path: RTSPPath, track: Int?)? {
        guard let (name, track) = RTSPURL.pathAndTrack(ofRequestURI: uri) else { return nil }
        if let i = pathByName[name] { return (paths[i], track) }
        return nil
    }

    private func baseURL(_ conn: RTSPConnection, _ path: RTSPPath) -> String {
        let host: String
        if let local = try? Socket.localAddress(of: conn.fd) {
            // An IPv4 reader on a dual-stack listener: its own address family in the URL.
            let ip = local.ipString.hasPrefix("::ffff:") && local.ipString.contains(".") ? String(local.ipString.dropFirst(7)) : local.ipString
            host = ip.contains(":") ? "[\(ip)]:\(local.port)" : "\(ip):\(local.port)"
        } else {
            host = "\(config.listen)"
        }
        return "rtsp://\(host)/\(path.spec.name)/"
    }

    // MARK: DESCRIBE

    private func describe(_ m: RTSPMessage, _ uri: String, _ index: Int, _ conn: RTSPConnection) {
        guard let (path, _) = target(uri) else { return reply(m, 404, index, conn, reason: "Not Found (no such path)") }
        if let accept = m.header("Accept") {
            let types = accept.split(separator: ",").map { $0.split(separator: ";").first.map { $0.trimmingSpaces.lowercased() } ?? "" }
            guard types.contains(where: { ["application/sdp", "application/*", "*/*"].contains($0) }) else {
                return reply(m, 406, index, conn, reason: "Not Acceptable (the description is application/sdp)")
            }
        }
        if path.live && !path.cleanSDP.isEmpty { return answerDescribe(m, path, index, conn) }
        if path.isPublish { return reply(m, 404, index, conn, reason: "Not Found (nobody is publishing to \(path.spec.name))") }
        guard path.parked.count < 64 else { return reply(m, 503, index, conn, reason: "Service Unavailable (too many waiting requests)") }
        // Wait for the source: parsing of this connection stops until the answer.
        conn.parkedRequest = m
        conn.parkedSinceMs = nowMs
        path.parked.append((index, conn.generation))
        path.unusedSinceMs = nil
        // A reader asking is worth an attempt now, unless readers already wait through an
        // outage (then the backoff paces the attempts).
        if path.sourceSlot == nil && (path.readers.isEmpty || nowMs >= path.nextAttemptMs) { startSource(path) }
    }

    func answerDescribe(_ m: RTSPMessage, _ path: RTSPPath, _ index: Int, _ conn: RTSPConnection) {
        reply(m, 200, index, conn, headers: [("Content-Base", baseURL(conn, path)), ("Content-Type", "application/sdp")],
              body: path.cleanSDP)
    }

    /// Answers the DESCRIBEs waiting on `path`: with the SDP when it is live, else `status`.
    func releaseParked(_ path: RTSPPath, failure status: Int?, reason: String? = nil) {
        let waiting = path.parked
        path.parked.removeAll()
        for (slot, generation) in waiting {
            guard let c = connections[slot], c.generation == generation, !c.closing, let m = c.parkedRequest else { continue }
            c.parkedRequest = nil
            if let status {
                reply(m, status, slot, c, reason: reason)
            } else {
                answerDescribe(m, path, slot, c)
            }
            pumpBacklog(slot, c)
        }
        if !path.isWanted && path.unusedSinceMs == nil { path.unusedSinceMs = nowMs }
    }

    /// DESCRIBEs waiting longer than the source gets to answer get a 503.
    func expireParked(_ path: RTSPPath) {
        guard !path.parked.isEmpty else { return }
        let limit = Int64(config.sourceTimeoutMs)
        path.parked.removeAll { slot, generation in
            guard let c = connections[slot], c.generation == generation, !c.closing, let m = c.parkedRequest else { return true }
            guard nowMs - c.parkedSinceMs > limit else { return false }
            c.parkedRequest = nil
            reply(m, 503, slot, c, reason: "Service Unavailable (the source did not answer in time)")
            pumpBacklog(slot, c)
            return true
        }
        if !path.isWanted && path.unusedSinceMs == nil { path.unusedSinceMs = nowMs }
    }

    // MARK: SETUP

    private func setup(_ m: RTSPMessage, _ uri: String, _ index: Int, _ conn: RTSPConnection) {
        guard let (path, trackIndex) = target(uri) else { return reply(m, 404, index, conn, reason: "Not Found (no such path)") }
        var (found, existing) = namedSession(m, index, conn, required: false)
        guard found else { return }
        if existing == nil, m.header("Session") == nil,
           let announced = conn.sessionIDs.compactMap({ sessions[$0] }).first(where: { $0.state == .announced && $0.path == path.index }) {
            // Some publishers leave the Session of their ANNOUNCE off the SETUPs that follow:
            // on the connection that announced, there is only one session it can mean.
            existing = announced
        }
        if let s = existing {
            // A session is set up against the tracks its path had then; if they changed the
            // readers were ended, so a session of another shape here is a stale one.
            guard s.tracks.count == path.tracks.count else {
                return reply(m, 455, index, conn, reason: "Method Not Valid in This State (the stream's tracks changed; DESCRIBE again)")
            }
            guard s.path == path.index else {
                return reply(m, 459, index, conn, reason: "Aggregate Operation Not Allowed (session is on another path)")
            }
            guard s.state == .ready || s.state == .announced else {
                return reply(m, 455, index, conn, reason: "Method Not Valid in This State (SETUP while playing or recording)")
            }
        }
        let publishing = existing?.state == .announced
        let trackCount = path.tracks.count
        guard trackCount > 0 else { return reply(m, 503, index, conn, reason: "Service Unavailable (the stream is not described yet)") }
        // Without a track control, a single-track stream means its one track.
        guard let track = trackIndex ?? (trackCount == 1 ? 0 : nil) else {
            return reply(m, 459, index, conn, reason: "Aggregate Operation Not Allowed (SETUP needs a track URL)")
        }
        guard track < trackCount else { return reply(m, 404, index, conn, reason: "Not Found (no track \(track))") }
        guard let transportHeader = m.header("Transport") else { return reply(m, 461, index, conn, reason: "Unsupported Transport (no Transport header)") }
        if existing == nil {
            guard sessions.count < config.maxReaders + paths.count, conn.sessionIDs.count < 16 else {
                return reply(m, 453, index, conn, reason: "Not Enough Bandwidth (session limit reached)")
            }
        }
        let existingUDP = existing?.usesUDP ?? false, existingTCP = existing?.usesInterleaved ?? false
        var chosen: (RTSPSession.Delivery, RTSPTransport)? = nil
        for t in RTSPTransport.parseList(transportHeader) {
            if t.unicast == false { continue }  // multicast is not served
            guard ["RTP/AVP", "RTP/AVP/UDP", "RTP/AVP/TCP"].contains(t.profile.uppercased()) else { continue }
            if let mode = t.mode, mode != "PLAY", mode != "RECORD" { continue }
            if (t.mode == "RECORD") != publishing { continue }
            switch t.lowerTransport {
            case .tcp:
                guard !existingUDP else { continue }
                var first = t.interleaved?.first ?? -1
                let second = t.interleaved.map { $0.second ?? $0.first + 1 } ?? -1
                // Any free pair the client asks for; allocated when absent or taken.
                if !(0...254).contains(first) || second != first + 1 || conn.channels[first] != nil || conn.channels[second] != nil {
                    guard let free = conn.freeChannelPair() else { continue }
                    first = free
                }
                chosen = (.interleaved(rtp: UInt8(first), rtcp: UInt8(first + 1)), t)
            case .udp:
                guard !existingTCP, let ports = t.clientPort, (1...65534).contains(ports.first) else { continue }
                let rtcpPort = ports.second ?? ports.first + 1
                guard (1...65535).contains(rtcpPort) else { continue }
                // Media goes to the address the request came from, never to a `destination=`:
                // a relay must not be a reflector aimed at third parties.
                let rtp = conn.peer.withPort(UInt16(ports.first)), rtcp = conn.peer.withPort(UInt16(rtcpPort))
                // Not to our own media ports (a loop), and not to ports another session has:
                // its receiver reports would keep the wrong session alive.
                if isOwnMediaPort(rtp, conn) || isOwnMediaPort(rtcp, conn) {
                    return reply(m, 461, index, conn, reason: "Unsupported Transport (client_port is the relay's own media port)")
                }
                if let other = udpPeers[rtcp] ?? udpPeers[rtp], other.sessionID != existing?.id {
                    return reply(m, 461, index, conn, reason: "Unsupported Transport (client_port \(ports.first) is in use by another session)")
                }
                chosen = (.udp(rtp: rtp, rtcp: rtcp), t)
            }
            if chosen != nil { break }
        }
        guard let (delivery, requested) = chosen else {
            return reply(m, 461, index, conn, reason: "Unsupported Transport")
        }
        let s: RTSPSession
        if let existing {
            s = existing
        } else {
            s = RTSPSession(id: newSessionID(), path: path.index, connectionSlot: index, connectionGeneration: conn.generation,
                            state: .ready, trackCount: trackCount, nowMs: nowMs)
            sessions[s.id] = s
            conn.sessionIDs.append(s.id)
            path.idleSessions += 1
            path.unusedSinceMs = nil
        }
        if let old = s.tracks[track] { forget(old.delivery, conn) }
        s.tracks[track] = RTSPSession.Track(delivery: delivery, waitingForKeyframe: path.tracks[track].isH264)
        var answer = RTSPTransport(profile: "RTP/AVP")
        answer.unicast = true
        let ssrc = path.tracks[track].continuity.outputSSRC
        switch delivery {
        case .interleaved(let rtp, let rtcp):
            answer = RTSPTransport(profile: "RTP/AVP/TCP")
            answer.unicast = true
            answer.interleaved = RTSPPortPair(first: Int(rtp), second: Int(rtcp))
            conn.channels[Int(rtp)] = RTSPChannelUse(sessionID: s.id, track: track, isRTCP: false)
            conn.channels[Int(rtcp)] = RTSPChannelUse(sessionID: s.id, track: track, isRTCP: true)
        case .udp(let rtp, let rtcp):
            answer.clientPort = RTSPPortPair(first: Int(rtp.port), second: Int(rtcp.port))
            answer.serverPort = RTSPPortPair(first: Int(udp.rtpPort), second: Int(udp.rtpPort) + 1)
            udpPeers[rtcp] = RTSPChannelUse(sessionID: s.id, track: track, isRTCP: true)
            if publishing { udpPeers[rtp] = RTSPChannelUse(sessionID: s.id, track: track, isRTCP: false) }
        }
        if publishing { answer.mode = "RECORD" } else { answer.ssrc = ssrc }
        _ = requested
        reply(m, 200, index, conn, headers: [("Transport", answer.serialized()), sessionHeader(s)])
    }

    /// Whether `address` is the relay's own UDP pair, as seen from `conn`'s peer.
    private func isOwnMediaPort(_ address: SocketAddress, _ conn: RTSPConnection) -> Bool {
        guard address.port == udp.rtpPort || address.port == udp.rtpPort + 1 else { return false }
        let local = (try? Socket.localAddress(of: conn.fd))?.ipString
        return address.ipString == local || address.ipString.hasPrefix("127.") || address.ipString == "::1"
            || address.ipString.hasPrefix("::ffff:127.")
    }

    private func forget(_ delivery: RTSPSession.Delivery, _ conn: RTSPConnection) {
        switch delivery {
        case .interleaved(let rtp, let rtcp):
            conn.channels[Int(rtp)] = nil
            conn.channels[Int(rtcp)] = nil
        case .udp(let rtp, let rtcp):
            udpPeers[rtp] = nil
            udpPeers[rtcp] = nil
        }
    }

    func newSessionID() -> String {
        var id: String
        repeat {
            id = String(UInt64.random(in: 1 << 60...UInt64.max), radix: 16, uppercase: true)
        } while sessions[id] != nil
        return id
    }

    // MARK: PLAY, PAUSE, TEARDOWN, keepalives

    private func play(_ m: RTSPMessage, _ uri: String, _ index: Int, _ conn: RTSPConnection) {
        let (found, named) = namedSession(m, index, conn, required: true)
        guard found, let s = named else { return }
        let path = paths[s.path]
        if let (p, _) = target(uri), p !== path {
            return reply(m, 459, index, conn, reason: "Aggregate Operation Not Allowed (session is on another path)")
        }
        if s.state == .playing {
            return reply(m, 200, index, conn, headers: [sessionHeader(s), ("Range", "npt=0.000-")])
        }
        guard s.state == .ready else { return reply(m, 455, index, conn, reason: "Method Not Valid in This State (a publishing session)") }
        guard s.tracks.count == path.tracks.count else {
            return reply(m, 455, index, conn, reason: "Method Not Valid in This State (the stream's tracks changed; DESCRIBE again)")
        }
        guard s.tracks.contains(where: { $0 != nil }) else { return reply(m, 455, index, conn, reason: "Method Not Valid in This State (no track set up)") }
        if s.usesInterleaved && s.connectionSlot != index {
            return reply(m, 455, index, conn, reason: "Method Not Valid in This State (interleaved session of another connection)")
        }
        guard readersTotal < config.maxReaders else { return reply(m, 453, index, conn, reason: "Not Enough Bandwidth (--max-readers reached)") }
        var info: [String] = []
        let base = baseURL(conn, path)
        for (i, t) in s.tracks.enumerated() where t != nil {
            let track = path.tracks[i]
            let (seq, ts) = firstOutput(track)
            info.append("url=\(base)trackID=\(i);seq=\(seq);rtptime=\(ts)")
        }
        reply(m, 200, index, conn, headers: [sessionHeader(s), ("Range", "npt=0.000-"), ("RTP-Info", info.joined(separator: ","))])
        s.state = .playing
        path.idleSessions -= 1
        path.readers.append(s)
        readersTotal += 1
        startReader(s, path)
    }

    private func pause(_ m: RTSPMessage, _ index: Int, _ conn: RTSPConnection) {
        let (found, named) = namedSession(m, index, conn, required: true)
        guard found, let s = named else { return }
        guard s.state == .playing || s.state == .ready else { return reply(m, 455, index, conn, reason: "Method Not Valid in This State") }
        if s.state == .playing { stopReading(s) }
        reply(m, 200, index, conn, headers: [sessionHeader(s)])
    }

    private func teardown(_ m: RTSPMessage, _ index: Int, _ conn: RTSPConnection) {
        let (found, named) = namedSession(m, index, conn, required: true)
        guard found, let s = named else { return }
        reply(m, 200, index, conn)
        endSession(s, reason: "TEARDOWN")
        if let (c, _) = connection(of: s) { c.sessionIDs.removeAll { $0 == s.id } }
    }

    private func keepalive(_ m: RTSPMessage, _ index: Int, _ conn: RTSPConnection) {
        let (found, named) = namedSession(m, index, conn, required: false)
        guard found else { return }
        reply(m, 200, index, conn, headers: named.map { [sessionHeader($0)] } ?? [])
    }

    /// The sequence number and timestamp a new reader's first packet will carry.
    private func firstOutput(_ track: RTSPTrack) -> (UInt16, UInt32) {
        if track.cacheValid, let first = track.cache.first {
            let p = arena.bytes(first)
            let seq = UInt16(p.load(fromByteOffset: 2, as: UInt8.self)) << 8 | UInt16(p.load(fromByteOffset: 3, as: UInt8.self))
            var ts: UInt32 = 0
            for k in 4..<8 { ts = ts << 8 | UInt32(p.load(fromByteOffset: k, as: UInt8.self)) }
            return (track.isH264 && track.h264.sps != nil ? seq &- 1 : seq, ts)
        }
        return (track.lastOutputSequence &+ 1, track.lastOutputTimestamp)
    }

    func stopReading(_ s: RTSPSession) {
        let path = paths[s.path]
        guard s.state == .playing else { return }
        s.state = .ready
        path.readers.removeAll { $0 === s }
        path.idleSessions += 1
        readersTotal -= 1
        for i in s.tracks.indices where s.tracks[i] != nil && i < path.tracks.count { s.tracks[i]!.waitingForKeyframe = path.tracks[i].isH264 }
    }

    /// Removes a session from everything (its connection's list is the caller's business).
    func endSession(_ s: RTSPSession, reason: String) {
        guard sessions[s.id] === s else { return }
        sessions[s.id] = nil
        let path = paths[s.path]
        if s.state == .playing {
            path.readers.removeAll { $0 === s }
            readersTotal -= 1
        } else {
            path.idleSessions -= 1
        }
        if let (c, _) = connection(of: s) {
            for t in s.tracks { if let t { forget(t.delivery, c) } }
        } else {
            for t in s.tracks {
                if case .udp(let rtp, let rtcp)? = t?.delivery { udpPeers[rtp] = nil; udpPeers[rtcp] = nil }
            }
        }
        if path.publisherSessionID == s.id { publisherLeft(path, reason: reason) }
        if !path.isWanted && path.unusedSinceMs == nil { path.unusedSinceMs = nowMs }
    }

    // MARK: ANNOUNCE, RECORD

    private func announce(_ m: RTSPMessage, _ uri: String, _ index: Int, _ conn: RTSPConnection) {
        guard let (path, _) = target(uri) else { return reply(m, 404, index, conn, reason: "Not Found (no such path)") }
        guard path.isPublish else {
            return reply(m, 455, index, conn, reason: "Method Not Valid in This State (\(path.spec.name) is pulled from a source, not published to)")
        }
        if let other = path.publisherSessionID, sessions[other] != nil {
            return reply(m, 455, index, conn, reason: "Method Not Valid in This State (someone is already publishing to \(path.spec.name))")
        }
        guard let sdp = SessionDescription.parse(m.body), !sdp.media.isEmpty else {
            return reply(m, 400, index, conn, reason: "Bad Request (the ANNOUNCE body is not an SDP with media)")
        }
        guard sdp.media.count <= Self.maxTracks else {
            return reply(m, 400, index, conn, reason: "Bad Request (more than \(Self.maxTracks) media in the SDP)")
        }
        guard conn.sessionIDs.count < 16 else { return reply(m, 453, index, conn, reason: "Not Enough Bandwidth (session limit reached)") }
        dropReadersIfTracksChanged(path, sdp)
        adopt(sdp, for: path)
        let s = RTSPSession(id: newSessionID(), path: path.index, connectionSlot: index, connectionGeneration: conn.generation,
                            state: .announced, trackCount: path.tracks.count, nowMs: nowMs)
        sessions[s.id] = s
        conn.sessionIDs.append(s.id)
        path.idleSessions += 1
        path.publisherSessionID = s.id
        reply(m, 200, index, conn, headers: [sessionHeader(s)])
    }

    private func record(_ m: RTSPMessage, _ index: Int, _ conn: RTSPConnection) {
        let (found, named) = namedSession(m, index, conn, required: true)
        guard found, let s = named else { return }
        guard s.state == .announced else { return reply(m, 455, index, conn, reason: "Method Not Valid in This State (RECORD needs ANNOUNCE and SETUP)") }
        guard s.tracks.contains(where: { $0 != nil }) else { return reply(m, 455, index, conn, reason: "Method Not Valid in This State (no track set up)") }
        s.state = .recording
        reply(m, 200, index, conn, headers: [sessionHeader(s)])
        let path = paths[s.path]
        beginSourceSession(path)
        Log.info("rtsp: \(path.spec.name): publisher \(conn.peer) recording \(path.tracks.count) track(s)")
        releaseParked(path, failure: nil)
    }
}
