import Glibc

/// Media: packets in from sources and publishers, out to readers.
extension RTSPRelayWorker {
    // MARK: In

    /// An interleaved frame on a connection: a source's or publisher's media, or a reader's RTCP.
    func interleaved(channel: UInt8, _ payload: UnsafeRawBufferPointer, _ index: Int, _ conn: RTSPConnection) {
        guard let use = conn.channels[Int(channel)] else { return }  // unknown channel: ignored (RFC 2326 §10.12)
        if use.sourcePath >= 0 {
            return ingest(payload, path: paths[use.sourcePath], track: use.track, isRTCP: use.isRTCP)
        }
        guard let s = sessions[use.sessionID] else { return }
        s.lastActivityMs = nowMs
        if s.state == .recording {
            ingest(payload, path: paths[s.path], track: use.track, isRTCP: use.isRTCP)
        }
        // A reader's RTCP (receiver reports) only proves it is alive.
    }

    func udpReceived(_ c: Completion, isRTCP: Bool) {
        if !c.hasMore {
            if isRTCP { udpRTCPArmed = false } else { udpRTPArmed = false }
            // Re-armed by the tick (not here: a persistent error must not spin).
        }
        guard let id = c.bufferID else { return }
        defer { engine.releaseBuffer(id) }
        guard c.result > 0, let d = Datagram(buffer: engine.buffers.pointer(id), used: Int(c.result)), !d.truncated,
              let from = d.sourceAddress, let use = udpPeers[from] else { return }
        let payload = UnsafeRawBufferPointer(start: d.payload, count: d.payloadLength)
        guard let s = sessions[use.sessionID] else { return }
        s.lastActivityMs = nowMs
        if s.state == .recording { ingest(payload, path: paths[s.path], track: use.track, isRTCP: use.isRTCP) }
    }

    /// One RTP or RTCP packet of `path`'s track: copied into the arena, rewritten, cached and
    /// fanned out.
    func ingest(_ bytes: UnsafeRawBufferPointer, path: RTSPPath, track trackIndex: Int, isRTCP: Bool) {
        guard path.live, trackIndex < path.tracks.count, bytes.count >= (isRTCP ? 8 : 12) else { return }
        let track = path.tracks[trackIndex]
        stats.packetsIn += 1
        guard let ref = allocatePacket(bytes.count) else {
            stats.packetsDropped += 1
            return
        }
        defer { arena.release(ref) }
        let packet = UnsafeMutableRawBufferPointer(start: arena.bytes(ref), count: bytes.count)
        packet.copyMemory(from: bytes)
        if isRTCP {
            noteSenderReport(UnsafeRawBufferPointer(packet), track)
            // Only the current source's sender reports go on (rewritten to our SSRC and
            // timeline); a BYE or a stale report would end or confuse the readers' stream.
            guard track.continuity.rewriteRTCPSenderReport(packet) else { return }
            return deliver(ref, path, trackIndex, isRTCP: true, keyframe: false)
        }
        guard case .success(let header) = RTPHeader.parse(UnsafeRawBufferPointer(packet)) else {
            stats.packetsDropped += 1
            return
        }
        if track.stats == nil || track.stats!.ssrc != header.ssrc {
            track.stats = RTPStreamStats(ssrc: header.ssrc, clockRate: track.clockRate)
        }
        _ = track.stats!.record(sequence: header.sequenceNumber, timestamp: header.timestamp, bytes: bytes.count,
                                arrivalNs: Int64(MonotonicClock.nowNs()))
        guard track.continuity.rewrite(packet) else {
            stats.packetsDropped += 1
            return
        }
        track.lastPacketMs = nowMs
        track.packetsTotal += 1
        track.lastOutputSequence = UInt16(packet[2]) << 8 | UInt16(packet[3])
        track.lastOutputTimestamp = UInt32(packet[4]) << 24 | UInt32(packet[5]) << 16 | UInt32(packet[6]) << 8 | UInt32(packet[7])
        var keyframe = !track.isH264
        if track.isH264 {
            let payload = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(packet)[header.headerLength..<(header.headerLength + header.payloadLength)])
            let info = H264RTPPayload.inspect(payload)
            keyframe = info.startsKeyframe
            var changed = false
            if let r = info.sps, track.h264.sps.map({ !$0.elementsEqual(payload[r]) }) ?? true {
                track.h264.sps = Array(payload[r])
                changed = true
            }
            if let r = info.pps, track.h264.pps.map({ !$0.elementsEqual(payload[r]) }) ?? true {
                track.h264.pps = Array(payload[r])
                changed = true
            }
            if changed { rebuildSDP(path) }
            updateCache(track, ref, keyframe: keyframe, timestamp: header.timestamp)
        }
        deliver(ref, path, trackIndex, isRTCP: false, keyframe: keyframe)
    }

    private func noteSenderReport(_ packet: UnsafeRawBufferPointer, _ track: RTSPTrack) {
        // SR: the middle 32 bits of its NTP timestamp go back in our receiver reports (LSR).
        guard packet.count >= 28, packet[1] == 200 else { return }
        track.lastSenderReportNTP = UInt32(packet[10]) << 24 | UInt32(packet[11]) << 16 | UInt32(packet[12]) << 8 | UInt32(packet[13])
        track.lastSenderReportAtMs = nowMs
    }

    /// Keeps the packets since the last keyframe, within `keyframeCacheBytes`.
    /// A keyframe coded as several slices (x264's sliced threads) starts each slice with a
    /// keyframe packet of the same timestamp: only the first starts a new cache.
    private func updateCache(_ track: RTSPTrack, _ ref: PacketArena.Ref, keyframe: Bool, timestamp: UInt32) {
        if keyframe && !(track.cacheValid && track.cacheKeyframeTimestamp == timestamp) {
            track.clearCache(arena)
            track.cacheValid = true
            track.cacheKeyframeTimestamp = timestamp
        }
        guard track.cacheValid else { return }
        let length = arena.length(ref)
        if track.cacheBytes + length > config.keyframeCacheBytes {
            track.clearCache(arena)  // a group of pictures too long to keep: new readers wait for the next keyframe
            return
        }
        arena.retain(ref)
        track.cache.append(ref)
        track.cacheBytes += length
    }

    // MARK: Out

    /// Hands one packet to every reader of the track.
    func deliver(_ ref: PacketArena.Ref, _ path: RTSPPath, _ trackIndex: Int, isRTCP: Bool, keyframe: Bool) {
        var dropped: [RTSPSession] = []
        for s in path.readers {
            guard trackIndex < s.tracks.count, let t = s.tracks[trackIndex] else { continue }
            if !isRTCP && t.waitingForKeyframe {
                guard keyframe else { continue }
                s.tracks[trackIndex]!.waitingForKeyframe = false
                if let sets = parameterSets(path.tracks[trackIndex], before: ref) {
                    let ok = send(sets, to: s, track: trackIndex, isRTCP: false)
                    arena.release(sets)
                    if !ok {
                        dropped.append(s)
                        continue
                    }
                }
            } else if isRTCP && t.waitingForKeyframe {
                continue
            }
            if !send(ref, to: s, track: trackIndex, isRTCP: isRTCP) { dropped.append(s) }
        }
        for s in dropped { dropReader(s, reason: "its queue is full (a reader that does not keep up)") }
    }

    /// Sends one packet to one reader; false when the reader must be dropped.
    @discardableResult
    func send(_ ref: PacketArena.Ref?, to s: RTSPSession, track: Int, isRTCP: Bool) -> Bool {
        guard let ref, track < s.tracks.count, let t = s.tracks[track] else { return true }
        switch t.delivery {
        case .interleaved(let rtp, let rtcp):
            guard let (c, i) = connection(of: s) else { return true }
            guard c.output.enqueue(ref, arena: arena, channel: isRTCP ? rtcp : rtp) else { return false }
            counters.packetsDeliveredTotal.add(1, ordering: .relaxed)
            flush(i, c)
        case .udp(let rtp, let rtcp):
            if sendDatagram(ref, to: isRTCP ? rtcp : rtp, rtcp: isRTCP) {
                counters.packetsDeliveredTotal.add(1, ordering: .relaxed)
            }
        }
        return true
    }

    @discardableResult
    func sendDatagram(_ ref: PacketArena.Ref, to address: SocketAddress, rtcp: Bool) -> Bool {
        sendDatagram(ref, to: address, fd: rtcp ? udp.rtcpFd : udp.rtpFd)
    }

    @discardableResult
    func sendDatagram(_ ref: PacketArena.Ref, to address: SocketAddress, fd: Int32) -> Bool {
        guard fd >= 0, !draining, datagramSlots.send(ref, arena: arena, to: address, fd: fd, issue: issueDatagram) else {
            stats.udpSendsSkipped += 1
            return false
        }
        return true
    }

    func issueDatagram(_ fd: Int32, _ slot: Int, _ message: UnsafeMutablePointer<msghdr>) {
        engine.sendDatagram(fd: fd, message: message, tag: RelayTag(slot: UInt32(slot), generation: 0, side: Self.datagramSide).raw)
    }

    /// A new reader: the latest parameter sets and the packets since the last keyframe, so its
    /// first picture decodes at once; without a cache it waits for the next keyframe.
    func startReader(_ s: RTSPSession, _ path: RTSPPath) {
        for (i, t) in s.tracks.enumerated() {
            guard t != nil, i < path.tracks.count else { continue }
            let track = path.tracks[i]
            guard track.isH264 else {
                s.tracks[i]!.waitingForKeyframe = false
                continue
            }
            guard track.cacheValid, let first = track.cache.first else { continue }
            s.tracks[i]!.waitingForKeyframe = false
            var ok = true
            if let sets = parameterSets(track, before: first) {
                ok = send(sets, to: s, track: i, isRTCP: false)
                arena.release(sets)
            }
            for ref in track.cache where ok { ok = send(ref, to: s, track: i, isRTCP: false) }
            if !ok { return dropReader(s, reason: "its queue cannot hold the keyframe cache") }
        }
    }

    /// A STAP-A with the track's SPS and PPS, numbered just before `next` (so the reader's
    /// sequence has no gap), or nil when they are unknown. The caller releases it.
    private func parameterSets(_ track: RTSPTrack, before next: PacketArena.Ref) -> PacketArena.Ref? {
        guard let sps = track.h264.sps, let pps = track.h264.pps else { return nil }
        let payload = H264RTPPayload.stapA([sps, pps])
        guard let ref = allocatePacket(12 + payload.count) else { return nil }
        let p = arena.bytes(ref)
        let n = arena.bytes(next)
        p.storeBytes(of: 0x80, toByteOffset: 0, as: UInt8.self)
        p.storeBytes(of: n.load(fromByteOffset: 1, as: UInt8.self) & 0x7F, toByteOffset: 1, as: UInt8.self)
        let seq = (UInt16(n.load(fromByteOffset: 2, as: UInt8.self)) << 8 | UInt16(n.load(fromByteOffset: 3, as: UInt8.self))) &- 1
        p.storeBytes(of: UInt8(seq >> 8), toByteOffset: 2, as: UInt8.self)
        p.storeBytes(of: UInt8(truncatingIfNeeded: seq), toByteOffset: 3, as: UInt8.self)
        (p + 4).copyMemory(from: n + 4, byteCount: 8)  // same timestamp and SSRC as the keyframe
        payload.withUnsafeBytes { (p + 12).copyMemory(from: $0.baseAddress!, byteCount: payload.count) }
        return ref
    }

    /// Drops a reader that cannot keep up: its session ends and its connection closes (its
    /// queue cannot be cut mid-stream without breaking the interleaved framing).
    func dropReader(_ s: RTSPSession, reason: String) {
        guard sessions[s.id] === s else { return }
        stats.readersDropped += 1
        counters.readersDroppedTotal.add(1, ordering: .relaxed)
        Log.warning("rtsp: \(paths[s.path].spec.name): dropping reader session \(s.id): \(reason)")
        if let (c, i) = connection(of: s) {
            c.sessionIDs.removeAll { $0 == s.id }
            endSession(s, reason: reason)
            if s.usesInterleaved { closeConnection(i, c, abortive: true, reason: reason) }
        } else {
            endSession(s, reason: reason)
        }
    }

    /// Room in the arena; when it is full the reader holding the oldest packets is dropped
    /// (the keyframe caches first give theirs back).
    func allocatePacket(_ length: Int) -> PacketArena.Ref? {
        if let r = arena.allocate(length: length) { return r }
        for p in paths { for t in p.tracks { t.clearCache(arena) } }
        if let r = arena.allocate(length: length) { return r }
        // The slowest TCP reader is the one with the most queued.
        var worst: RTSPSession? = nil
        var worstBytes = 0
        for s in sessions.values where s.state == .playing && s.usesInterleaved {
            if let (c, _) = connection(of: s), c.output.queuedBytes > worstBytes {
                worst = s
                worstBytes = c.output.queuedBytes
            }
        }
        if let worst {
            dropReader(worst, reason: "the packet store is full and it holds the oldest packets")
            // Its queue is released when its connection's send completes; this packet is lost.
        }
        return nil
    }

    // MARK: UDP pair

    func armUDP() {
        guard !draining else { return }
        if !udpRTPArmed && udp.rtpFd >= 0 {
            udpRTPArmed = true
            engine.receiveDatagramsMultishot(fd: udp.rtpFd, tag: Self.udpRTPTag)
        }
        if !udpRTCPArmed && udp.rtcpFd >= 0 {
            udpRTCPArmed = true
            engine.receiveDatagramsMultishot(fd: udp.rtcpFd, tag: Self.udpRTCPTag)
        }
    }

    func closeUDP() {
        if udpRTPArmed { engine.cancelAll(fd: udp.rtpFd) }
        if udpRTCPArmed { engine.cancelAll(fd: udp.rtcpFd) }
    }
}
