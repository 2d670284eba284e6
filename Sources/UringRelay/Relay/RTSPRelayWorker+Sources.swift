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
        let transport: RTSPSourceClient.Transport
        if config.sourceTransport == .udp {
            transport = .udp(clientPorts: Array(repeating: Int(udp.rtpPort), count: 16))
        } else {
            transport = .tcp
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
                if !path.tracks.isEmpty && path.tracks.count != sdp.media.count {
                    // The source changed its tracks: readers set up for the old ones must go.
                    dropAllReaders(path, reason: "source now has \(sdp.media.count) track(s), was \(path.tracks.count)")
                }
                adopt(sdp, for: path)
                mapSourceChannels(conn, path)
            case .playing(let setups):
                for (i, s) in setups.enumerated() where i < path.tracks.count {
                    if config.sourceTransport == .udp {
                        // UDP from the source arrives on our shared pair: known by its address.
                        if let ports = s.serverPorts {
                            udpPeers[conn.peer.withPort(UInt16(clamping: ports.first))] = RTSPChannelUse(sessionID: "", track: i, isRTCP: false, sourcePath: p)
                            udpPeers[conn.peer.withPort(UInt16(clamping: ports.second ?? ports.first + 1))] = RTSPChannelUse(sessionID: "", track: i, isRTCP: true, sourcePath: p)
                        }
                    } else {
                        conn.channels[s.rtpChannel] = RTSPChannelUse(sessionID: "", track: i, isRTCP: false, sourcePath: p)
                        conn.channels[s.rtcpChannel] = RTSPChannelUse(sessionID: "", track: i, isRTCP: true, sourcePath: p)
                    }
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
        udpPeers = udpPeers.filter { $0.value.sourcePath != path.index }
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
        path.live = true
        path.sourceSessionsTotal += 1
        path.lastSourceFailure = nil
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
        udpPeers = udpPeers.filter { $0.value.sourcePath != path.index }
        let wasPlaying = path.sourcePlaying
        path.sourcePlaying = false
        if path.live { path.lastMediaMs = nowMs }
        path.live = false
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
        releaseParked(path, failure: 503, reason: "Service Unavailable (source: \(reason))")
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
                sourceFailed(index, conn, "no PLAY reply within \(config.sourceTimeoutMs) ms", retry: true)
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
                if let ports = client.tracks[i].serverPorts {
                    sendDatagram(ref, to: conn.peer.withPort(UInt16(clamping: ports.second ?? ports.first + 1)), rtcp: true)
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
        Log.info("rtsp: \(path.spec.name): publisher gone (\(reason)); \(path.readers.count) reader(s) wait for the next one")
    }

    func dropAllReaders(_ path: RTSPPath, reason: String) {
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
