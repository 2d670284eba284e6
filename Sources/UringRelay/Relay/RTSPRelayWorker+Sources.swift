import Glibc

/// The client side: pulling each path from its source, once, whatever the number of readers.
extension RTSPRelayWorker {
    /// Connects to `path`'s source (pull paths), unless a connection is already under way.
    func startSource(_ path: RTSPPath) {
        guard let url = path.pullURL, path.sourceSlot == nil, !draining else { return }
        let address: SocketAddress
        do {
            let host = url.host.contains(":") ? "[\(url.host)]" : url.host
            address = try SocketAddress.parse("\(host):\(url.port)")
        } catch {
            return sourceAttemptFailed(path, "cannot resolve \(url.host): \(error)")
        }
        let fd: Int32
        do { fd = try Socket.makeStreamSocket(family: address.family) } catch {
            return sourceAttemptFailed(path, "socket: \(error)")
        }
        guard let (conn, index) = openConnection(fd: fd, role: .source(path: path.index), peer: address) else {
            Glibc.close(fd)
            return sourceAttemptFailed(path, "no connection slot free")
        }
        path.sourceSlot = index
        path.sourceGeneration = conn.generation
        path.sourcePlaying = false
        conn.sourceAttemptStartedMs = nowMs
        var transport = RTSPSourceClient.Transport.tcp
        if config.sourceTransport == .udp {
            let any = address.family == AF_INET6 ? SocketAddress.ipv6Any(port: 0) : SocketAddress.ipv4Any(port: 0)
            do {
                for _ in 0..<Self.maxUDPSourceTracks { conn.sourceUDP.append(try RTSPUDPPair.bind(host: any, rtpPort: 0)) }
            } catch {
                closeConnection(index, conn, abortive: true, reason: "cannot bind UDP ports for the source: \(error)")
                return
            }
            transport = .udp(clientPorts: conn.sourceUDP.map { Int($0.rtpPort) })
            for (k, pair) in conn.sourceUDP.enumerated() {
                for (fd, rtcp) in [(pair.rtpFd, false), (pair.rtcpFd, true)] {
                    conn.opsInFlight += 1
                    engine.receiveDatagramsMultishot(fd: fd, tag: sourceUDPTag(index, conn, track: k, rtcp: rtcp))
                }
            }
        }
        conn.sourceClient = RTSPSourceClient(url: url, transport: transport, userAgent: serverName)
        conn.opsInFlight += 1
        sourceAddressScratch.pointee = address.storage
        sourceAddressScratch.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
            engine.connect(fd: fd, address: a, length: address.length, tag: tag(index, conn))
        }
    }

    func sourceConnected(_ c: Completion, _ index: Int, _ conn: RTSPConnection) {
        conn.opsInFlight -= 1
        if conn.closing { return finishIfQuiet(index, conn) }
        guard c.result == 0, case .source(let p) = conn.role else {
            counters.upstreamConnectFailuresTotal.add(1, ordering: .relaxed)
            return sourceFailed(index, conn, "connect to \(conn.peer): \(errnoName(-c.result))", retry: true)
        }
        _ = p
        conn.connected = true
        conn.lastActivityMs = nowMs
        try? Socket.setNoDelay(conn.fd)
        armReceive(index, conn)
        guard var client = conn.sourceClient else { return }
        let events = client.start()
        conn.sourceClient = client
        apply(events, index, conn)
    }

    func sourceMessage(_ m: RTSPMessage, _ index: Int, _ conn: RTSPConnection) {
        if case .request = m.startLine {
            // Some servers send OPTIONS or GET_PARAMETER to their clients as keepalives.
            var h: [(String, String)] = [("CSeq", m.cseq ?? "0")]
            h.append(("User-Agent", serverName))
            respond(RTSPMessage(response: 200, headers: h), index, conn)
            return
        }
        guard var client = conn.sourceClient else { return }
        let events = client.handle(m)
        conn.sourceClient = client
        apply(events, index, conn)
    }

    private func apply(_ events: [RTSPSourceClient.Event], _ index: Int, _ conn: RTSPConnection) {
        guard case .source(let p) = conn.role else { return }
        let path = paths[p]
        for e in events {
            guard !conn.closing else { return }
            switch e {
            case .send(let m):
                respond(m, index, conn)
            case .described(let sdp):
                if sdp.media.count > Self.maxTracks {
                    return sourceFailed(index, conn, "the source's SDP has \(sdp.media.count) media, more than \(Self.maxTracks)", retry: false)
                }
                dropReadersIfTracksChanged(path, sdp)
                adopt(sdp, for: path)
                mapSourceChannels(conn, path)
            case .playing(let setups):
                for (i, s) in setups.enumerated() where i < path.tracks.count && config.sourceTransport == .tcp {
                    conn.channels[s.rtpChannel] = RTSPChannelUse(sessionID: "", track: i, isRTCP: false, sourcePath: p)
                    conn.channels[s.rtcpChannel] = RTSPChannelUse(sessionID: "", track: i, isRTCP: true, sourcePath: p)
                }
                path.sourcePlaying = true
                path.retryDelayMs = 0
                conn.lastKeepaliveMs = nowMs
                conn.lastReceiverReportMs = nowMs
                beginSourceSession(path)
                Log.info("rtsp: \(path.spec.name): pulling \(path.pullURL?.requestURI ?? "") (\(path.tracks.count) track(s))")
                releaseParked(path, failure: nil)
            case .failed(let why, let retry):
                sourceFailed(index, conn, why, retry: retry)
            }
        }
    }

    private func mapSourceChannels(_ conn: RTSPConnection, _ path: RTSPPath) {
        for i in conn.channels.indices { conn.channels[i] = nil }
    }

    /// Our own UDP ports for a source's tracks: this many at most.
    static var maxUDPSourceTracks: Int { 4 }

    func sourceUDPTag(_ index: Int, _ conn: RTSPConnection, track: Int, rtcp: Bool) -> UInt64 {
        RelayTag(slot: UInt32(index), generation: conn.generation, side: UInt8(2 + 2 * track + (rtcp ? 1 : 0))).raw
    }

    /// A datagram on one of a UDP source's own ports (`side` says which track and kind).
    func sourceDatagram(_ c: Completion, _ index: Int, _ conn: RTSPConnection, side: UInt8) {
        let track = Int(side - 2) / 2
        let isRTCP = (side - 2) % 2 == 1
        if let id = c.bufferID {
            if c.result > 0, !conn.closing, case .source(let p) = conn.role,
               let d = Datagram(buffer: engine.buffers.pointer(id), used: Int(c.result)), !d.truncated {
                conn.lastActivityMs = nowMs
                ingest(UnsafeRawBufferPointer(start: d.payload, count: d.payloadLength), path: paths[p], track: track, isRTCP: isRTCP)
            }
            engine.releaseBuffer(id)
        }
        guard !c.hasMore else { return }
        conn.opsInFlight -= 1
        if conn.closing { return finishIfQuiet(index, conn) }
        guard track < conn.sourceUDP.count, c.result >= 0 || c.result == -ENOBUFS else {
            return sourceFailed(index, conn, "UDP receive: \(errnoName(-c.result))", retry: true)
        }
        let pair = conn.sourceUDP[track]
        conn.opsInFlight += 1
        engine.receiveDatagramsMultishot(fd: isRTCP ? pair.rtcpFd : pair.rtpFd, tag: sourceUDPTag(index, conn, track: track, rtcp: isRTCP))
    }

    /// A new source session (pull or publish) starts delivering: offsets are chosen so
    /// readers see one continuous stream.
    func beginSourceSession(_ path: RTSPPath) {
        let gapMs = path.lastMediaMs == 0 ? 0 : Int(nowMs - path.lastMediaMs)
        for t in path.tracks {
            t.continuity.sourceRestarted(elapsedSinceLastPacketMs: max(1, gapMs), clockRate: t.clockRate)
            t.stats = nil
            t.clearCache(arena)
        }
        // The new session may have new parameter sets (another resolution) that only its SDP
        // carries: readers pick up again at its first keyframe, led by the current SPS/PPS.
        for s in path.readers {
            for i in s.tracks.indices where s.tracks[i] != nil && i < path.tracks.count && path.tracks[i].isH264 {
                s.tracks[i]!.waitingForKeyframe = true
            }
        }
        path.live = true
        path.sourceSessionsTotal += 1
        path.lastSourceFailure = nil
    }

    /// A source (or new publisher) whose tracks differ from the ones readers set up — another
    /// count, codec or clock — would feed their decoders what they cannot play: they go, and
    /// come back with a new DESCRIBE.
    func dropReadersIfTracksChanged(_ path: RTSPPath, _ sdp: SessionDescription) {
        guard !path.tracks.isEmpty else { return }
        let same = path.tracks.count == sdp.media.count && zip(path.tracks, sdp.media).allSatisfy { t, m in
            t.media.encodingName?.uppercased() == m.encodingName?.uppercased() && t.media.clockRate == m.clockRate && t.media.type == m.type
        }
        if !same {
            dropAllReaders(path, reason: "the stream's tracks changed (\(path.tracks.count) → \(sdp.media.count), or another codec)")
            for t in path.tracks { t.clearCache(arena) }
            path.tracks = []
        }
    }

    /// Takes the tracks of a described or announced SDP; tracks already there keep their
    /// rewriting state (the same SSRC and continuous numbers for readers).
    func adopt(_ sdp: SessionDescription, for path: RTSPPath) {
        path.description = sdp
        if path.tracks.count != sdp.media.count {
            for t in path.tracks { t.clearCache(arena) }
            path.tracks = sdp.media.map { RTSPTrack(media: $0, outputSSRC: UInt32.random(in: 1...UInt32.max)) }
        } else {
            for (t, media) in zip(path.tracks, sdp.media) {
                t.media = media
                let fresh = media.fmtp.map(H264Parameters.fromFmtp) ?? H264Parameters()
                if fresh.sps != nil { t.h264.sps = fresh.sps }
                if fresh.pps != nil { t.h264.pps = fresh.pps }
            }
        }
        rebuildSDP(path)
    }

    /// The SDP readers get: the source's media, cleaned, with the latest parameter sets.
    func rebuildSDP(_ path: RTSPPath) {
        guard var sdp = path.description else { return }
        for (i, t) in path.tracks.enumerated() where i < sdp.media.count && t.isH264 {
            guard let sets = t.h264.spropParameterSets else { continue }
            var fmtp = sdp.media[i].fmtp ?? "\(t.payloadType) packetization-mode=1"
            fmtp = replacingSprop(in: fmtp, with: sets)
            if let k = sdp.media[i].attributes.firstIndex(where: { $0.name == "fmtp" }) {
                sdp.media[i].attributes[k].value = fmtp
            } else {
                sdp.media[i].attributes.append((name: "fmtp", value: fmtp))
            }
        }
        let origin = config.listen.ipString == "0.0.0.0" || config.listen.ipString == "::" ? "127.0.0.1" : config.listen.ipString
        path.cleanSDP = sdp.cleanSDP(sessionName: path.spec.name, originAddress: origin, sessionID: UInt64(path.index + 1) << 32 | UInt64(path.sourceSessionsTotal))
    }

    private func replacingSprop(in fmtp: String, with sets: String) -> String {
        // "96 packetization-mode=1;sprop-parameter-sets=…;profile-level-id=…"
        let space = fmtp.firstIndex(of: " ")
        let format = space.map { String(fmtp[..<$0]) } ?? ""
        let params = space.map { String(fmtp[fmtp.index(after: $0)...]) } ?? fmtp
        var parts = params.split(separator: ";").map { $0.trimmingSpaces }.filter { !$0.lowercased().hasPrefix("sprop-parameter-sets=") && !$0.isEmpty }
        parts.append("sprop-parameter-sets=\(sets)")
        return (format.isEmpty ? "" : format + " ") + parts.joined(separator: ";")
    }

    func sourceFailed(_ index: Int, _ conn: RTSPConnection, _ why: String, retry: Bool) {
        closeConnection(index, conn, abortive: true, reason: why)
    }

    /// The source connection is gone (closed by us, by it, or failed).
    func sourceConnectionClosed(_ path: RTSPPath, reason: String) {
        path.sourceSlot = nil
        let wasPlaying = path.sourcePlaying
        path.sourcePlaying = false
        if path.live { path.lastMediaMs = nowMs }
        path.live = false
        // Packets of a session that ended must not greet the next reader.
        for t in path.tracks { t.clearCache(arena) }
        if draining { return }
        if path.isWanted || path.alwaysOn {
            sourceAttemptFailed(path, reason, wasPlaying: wasPlaying)
        }
    }

    /// Schedules the next attempt with backoff and answers waiting DESCRIBEs.
    private func sourceAttemptFailed(_ path: RTSPPath, _ reason: String, wasPlaying: Bool = false) {
        path.retryDelayMs = wasPlaying ? config.sourceRetryInitialMs / 2
            : min(config.sourceRetryMaxMs, max(config.sourceRetryInitialMs, path.retryDelayMs * 2))
        path.retryDelayMs = max(path.retryDelayMs, 100)
        path.nextAttemptMs = nowMs + Int64(path.retryDelayMs)
        if path.lastSourceFailure != reason {
            Log.warning("rtsp: \(path.spec.name): source \(path.pullURL?.requestURI ?? ""): \(reason); retrying in \(path.retryDelayMs) ms")
        }
        path.lastSourceFailure = reason
        // Readers learn that the source is down, not its address or the network's errors
        // (those go to the log).
        releaseParked(path, failure: 503, reason: "Service Unavailable (the source is unavailable)")
    }

    /// Per-tick work of a path: (re)connect when wanted, close when unwanted long enough.
    func tickPath(_ path: RTSPPath) {
        if path.isPublish { return }
        expireParked(path)
        if path.sourceSlot == nil {
            if (path.alwaysOn || !path.readers.isEmpty || path.idleSessions > 0) && nowMs >= path.nextAttemptMs { startSource(path) }
            return
        }
        if !path.alwaysOn && !path.isWanted {
            let since = path.unusedSinceMs ?? nowMs
            if path.unusedSinceMs == nil { path.unusedSinceMs = nowMs }
            if nowMs - since >= Int64(config.onDemandCloseMs), let slot = path.sourceSlot, let c = connections[slot] {
                Log.info("rtsp: \(path.spec.name): no readers for \(config.onDemandCloseMs) ms; closing the source")
                if var client = c.sourceClient, let m = client.teardown() {
                    c.sourceClient = client
                    respond(m, slot, c)
                }
                c.closeAfterFlush = true
                flush(slot, c)
                path.retryDelayMs = 0
            }
        }
    }

    /// Per-tick work of a source connection: attempt timeout, keepalive, receiver reports.
    func tickSource(_ index: Int, _ conn: RTSPConnection) {
        guard case .source(let p) = conn.role, let client = conn.sourceClient else { return }
        let path = paths[p]
        if !path.sourcePlaying {
            if nowMs - conn.sourceAttemptStartedMs > Int64(config.sourceTimeoutMs) {
                let stage: String
                switch client.state {
                case .idle: stage = conn.connected ? "no reply" : "the TCP connect did not complete"
                case .describing: stage = "no DESCRIBE reply"
                case .settingUp(let t): stage = "no SETUP reply for track \(t)"
                case .starting: stage = "no PLAY reply"
                case .playing, .closed: stage = "no progress"
                }
                sourceFailed(index, conn, "\(stage) within \(config.sourceTimeoutMs) ms", retry: true)
            }
            return
        }
        if nowMs - conn.lastActivityMs > Int64(max(config.sourceTimeoutMs, 5000)) {
            return sourceFailed(index, conn, "nothing received for \(max(config.sourceTimeoutMs, 5000)) ms", retry: true)
        }
        // Keepalive at half the source's session timeout: well before it, even on a slow link.
        if nowMs - conn.lastKeepaliveMs >= Int64(max(1000, client.sessionTimeoutMs / 2)) {
            var c = client
            if let m = c.keepalive() {
                conn.sourceClient = c
                respond(m, index, conn)
            }
            conn.lastKeepaliveMs = nowMs
        }
        if nowMs - conn.lastReceiverReportMs >= 2000 {
            conn.lastReceiverReportMs = nowMs
            sendReceiverReports(path, index, conn)
        }
    }

    /// One RR per track towards the source, on the track's RTCP channel.
    private func sendReceiverReports(_ path: RTSPPath, _ index: Int, _ conn: RTSPConnection) {
        guard let client = conn.sourceClient else { return }
        for (i, t) in path.tracks.enumerated() where i < client.tracks.count {
            guard var st = t.stats else { continue }
            let delay: UInt32 = t.lastSenderReportAtMs == 0 ? 0 : UInt32(clamping: (nowMs - t.lastSenderReportAtMs) * 65536 / 1000)
            let lost = st.lost
            let fraction = st.takeFractionLost()
            let rr = RTCPReceiverReport.build(reporterSSRC: reporterSSRC, sourceSSRC: st.ssrc, fractionLost: fraction,
                                              cumulativeLost: lost, extendedHighestSequence: st.extendedHighestSequence,
                                              jitter: st.jitterTimestampUnits, lastSenderReport: t.lastSenderReportNTP,
                                              delaySinceLastSenderReport: delay)
            t.stats = st
            guard let ref = allocatePacket(rr.count) else { return }
            rr.withUnsafeBytes { arena.bytes(ref).copyMemory(from: $0.baseAddress!, byteCount: rr.count) }
            if config.sourceTransport == .udp {
                // From the track's own RTCP port, the one the source knows us by.
                if let ports = client.tracks[i].serverPorts, i < conn.sourceUDP.count {
                    sendDatagram(ref, to: conn.peer.withPort(UInt16(clamping: ports.second ?? ports.first + 1)), fd: conn.sourceUDP[i].rtcpFd)
                }
            } else {
                _ = conn.output.enqueue(ref, arena: arena, channel: UInt8(truncatingIfNeeded: client.tracks[i].rtcpChannel))
            }
            arena.release(ref)
        }
        flush(index, conn)
    }

    /// The publisher of a publish path went away: the path waits for the next one.
    func publisherLeft(_ path: RTSPPath, reason: String) {
        path.publisherSessionID = nil
        if path.live { path.lastMediaMs = nowMs }
        path.live = false
        for t in path.tracks { t.clearCache(arena) }
        Log.info("rtsp: \(path.spec.name): publisher gone (\(reason)); \(path.readers.count) reader(s) wait for the next one")
    }

    func dropAllReaders(_ path: RTSPPath, reason: String) {
        let count = path.readers.count + sessions.values.filter({ $0.path == path.index && $0.state == .ready }).count
        if count > 0 { Log.info("rtsp: \(path.spec.name): ending \(count) reader session(s): \(reason)") }
        for s in path.readers + sessions.values.filter({ $0.path == path.index && $0.state == .ready }) {
            if let (c, i) = connection(of: s) {
                c.sessionIDs.removeAll { $0 == s.id }
                endSession(s, reason: reason)
                closeConnection(i, c, abortive: false, reason: reason)
            } else {
                endSession(s, reason: reason)
            }
        }
    }
}
