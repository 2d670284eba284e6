import Glibc
import Synchronization
import UringRelay

/// One reader of the rtsp scenario: DESCRIBE, SETUP (TCP interleaved or UDP client ports),
/// PLAY, then every RTP packet checked (RTSPBenchPayload) and accounted by its bench index.
///
/// Set up by the coordinator thread (`open`), then handed to one RTSPReaderGroup thread
/// (`handedOver`, stored with release before its fd is added to that thread's epoll), which
/// alone touches it until the owner joins the thread and reads the results.
final class RTSPBenchReader: @unchecked Sendable {
    // @unchecked: one thread at a time, handed over through `handedOver` and join() (above).
    let transport: RTSPTransport.LowerTransport
    /// The RTSP connection (TCP: media comes on it too).
    private(set) var fd: Int32 = -1
    /// UDP: the RTP socket (even port) and the RTCP socket beside it (bound so the relay's
    /// reports to it are not refused; never read).
    private(set) var rtpFD: Int32 = -1
    private(set) var rtcpFD: Int32 = -1
    let handedOver = Atomic<Bool>(false)

    private(set) var playSentNs: UInt64 = 0
    private(set) var firstKeyframeNs: UInt64?
    /// The first bench packet received was the start of a keyframe (nil before any).
    private(set) var startedOnKeyframe: Bool?
    /// The STAP-A with SPS and PPS came before the first bench packet.
    private(set) var parameterSetsFirst = false
    /// Highest bench index received (-1: none) and its RTP sequence and timestamp, to check
    /// that the relay's rewriting keeps the distances between packets.
    private(set) var lastIndex = -1
    private var lastSequence: UInt16 = 0
    private var lastTimestamp: UInt32 = 0
    private(set) var received = 0
    /// Distinct packets of the measured window received, and the last of them.
    private(set) var inWindow = 0
    private(set) var lastWindowIndex = -1
    private(set) var outOfOrder = 0
    private(set) var corrupt = 0
    private(set) var firstCorruption: String?
    private(set) var continuityErrors = 0
    private(set) var firstContinuityError: String?
    /// Why it stopped: set-up failed, the relay closed the connection, a read failed.
    private(set) var ended: String?
    /// TCP: the bytes of a `$` frame cut by the end of a read, kept for the next one.
    var carry: [UInt8] = []
    private let parser = RTSPStreamParser()
    private var rtpChannel: UInt8 = 0

    init(transport: RTSPTransport.LowerTransport) { self.transport = transport }

    /// DESCRIBE rtsp://127.0.0.1:port/path → SETUP → PLAY; media may already have been read
    /// with the PLAY reply, and is taken here. On failure `ended` says why and the reader
    /// stays out of the run.
    func open(port: UInt16, path: String, shared: RTSPLoadShared, histogram: inout LatencyHistogram) -> Bool {
        switch openSession(port: port, path: path, shared: shared, histogram: &histogram) {
        case .success: return true
        case .failure(let e):
            ended = "set-up: \(e)"
            return false
        }
    }

    private func openSession(port: UInt16, path: String, shared: RTSPLoadShared, histogram: inout LatencyHistogram) -> Result<Void, RTSPBenchError> {
        var transportSpec = "RTP/AVP/TCP;unicast;interleaved=0-1"
        if transport == .udp {
            switch Self.bindPortPair() {
            case .failure(let e): return .failure(e)
            case .success(let (rtp, rtcp, first)):
                rtpFD = rtp
                rtcpFD = rtcp
                transportSpec = "RTP/AVP;unicast;client_port=\(first)-\(first + 1)"
            }
        }
        let channel: RTSPControlChannel
        do { channel = try RTSPControlChannel(port: port) } catch { return .failure(RTSPBenchError("connect: \(error)")) }
        fd = channel.fd
        let url = "rtsp://127.0.0.1:\(port)/\(path)"
        let describe: RTSPMessage
        switch channel.expectOK("DESCRIBE", url, headers: [("Accept", "application/sdp")]) {
        case .failure(let e): return .failure(e)
        case .success(let m): describe = m
        }
        let base = describe.header("Content-Base") ?? url
        guard let sdp = SessionDescription.parse(describe.body), let media = sdp.media.first else {
            return .failure(RTSPBenchError("DESCRIBE: no media in the SDP"))
        }
        let parameters = media.fmtp.map(H264Parameters.fromFmtp) ?? H264Parameters()
        guard parameters == H264Parameters(sps: RTSPBenchStream.sps, pps: RTSPBenchStream.pps) else {
            return .failure(RTSPBenchError("DESCRIBE: the SDP does not carry the publisher's SPS and PPS (fmtp \(media.fmtp ?? "none"))"))
        }
        let trackURL = RTSPURL.parse(base)?.resolving(control: media.control ?? "") ?? base
        let setup: RTSPMessage
        switch channel.expectOK("SETUP", trackURL, headers: [("Transport", transportSpec)]) {
        case .failure(let e): return .failure(e)
        case .success(let m): setup = m
        }
        guard let session = RTSPControlChannel.sessionID(setup) else { return .failure(RTSPBenchError("SETUP: no Session in the reply")) }
        guard let reply = RTSPTransport.parseList(setup.header("Transport") ?? "").first else {
            return .failure(RTSPBenchError("SETUP: no Transport in the reply"))
        }
        switch transport {
        case .tcp:
            guard let pair = reply.interleaved, reply.lowerTransport == .tcp, (0...255).contains(pair.first) else {
                return .failure(RTSPBenchError("SETUP: reply Transport \(reply.serialized()) has no interleaved channels"))
            }
            rtpChannel = UInt8(pair.first)
        case .udp:
            guard reply.serverPort != nil else {
                return .failure(RTSPBenchError("SETUP: reply Transport \(reply.serialized()) has no server_port"))
            }
        }
        playSentNs = MonotonicClock.nowNs()
        switch channel.expectOK("PLAY", base, headers: [("Session", session), ("Range", "npt=0.000-")]) {
        case .failure(let e): return .failure(e)
        case .success: break
        }
        let early = channel.takeLeftover()
        if !early.isEmpty {
            let now = MonotonicClock.nowNs()
            let used = early.withUnsafeBytes { feed($0, nowNs: now, shared: shared, histogram: &histogram) }
            carry = Array(early[used...])
        }
        do { try Socket.setNonBlocking(fd) } catch { return .failure(RTSPBenchError("\(error)")) }
        return .success(())
    }

    /// An even UDP port and the one above it on 127.0.0.1, both bound (bounded retries).
    private static func bindPortPair() -> Result<(Int32, Int32, UInt16), RTSPBenchError> {
        var last = "no even port pair found"
        for _ in 0..<64 {
            do throws(SystemError) {
                let rtp = try Socket.makeDatagramSocket(.ipv4Loopback(port: 0), receiveBuffer: 4 << 20)
                let port = try Socket.localAddress(of: rtp).port
                guard port % 2 == 0, port < 65534 else { Glibc.close(rtp); continue }
                do throws(SystemError) {
                    let rtcp = try Socket.makeDatagramSocket(.ipv4Loopback(port: port + 1), receiveBuffer: 64 << 10)
                    return .success((rtp, rtcp, port))
                } catch {
                    Glibc.close(rtp)
                    last = "\(error)"
                }
            } catch {
                return .failure(RTSPBenchError("\(error)"))
            }
        }
        return .failure(RTSPBenchError(last))
    }

    /// TCP: takes the `$` frames at the front of `bytes`; returns the bytes used (the rest is
    /// a cut frame). RTCP (the odd channel) and RTSP messages are skipped.
    func feed(_ bytes: UnsafeRawBufferPointer, nowNs: UInt64, shared: RTSPLoadShared, histogram: inout LatencyHistogram) -> Int {
        var used = 0
        while used < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[used...])
            let (item, consumed) = parser.next(rest)
            switch item {
            case .interleaved(let channel, let payload):
                if channel == rtpChannel {
                    take(UnsafeRawBufferPointer(rebasing: rest[payload]), nowNs: nowNs, shared: shared, histogram: &histogram)
                }
                used += consumed
            case .message:
                used += consumed
            case .needMore:
                return used
            case .invalid(let why):
                end("stream from the relay unparsable: \(why)")
                return bytes.count
            }
        }
        return used
    }

    /// One RTP packet from the relay.
    @inline(__always)
    func take(_ packet: UnsafeRawBufferPointer, nowNs: UInt64, shared: RTSPLoadShared, histogram: inout LatencyHistogram) {
        switch RTSPBenchPayload.check(packet, of: shared.stream, dueNs: shared.dueNs) {
        case .parameterSets:
            if lastIndex < 0 { parameterSetsFirst = true }
        case .invalid(let why):
            corrupt += 1
            if firstCorruption == nil { firstCorruption = why }
        case .media(let k, let header):
            guard k > lastIndex else {
                outOfOrder += 1
                return
            }
            let place = shared.stream.place(of: k)
            if lastIndex < 0 {
                startedOnKeyframe = place.isKeyframeStart
            } else {
                // The relay may shift sequence numbers and timestamps, not the steps between them.
                let steps = UInt16(truncatingIfNeeded: k - lastIndex)
                let ticks = UInt32(truncatingIfNeeded: place.frame - shared.stream.place(of: lastIndex).frame) &* shared.stream.timestampStep
                if header.sequenceNumber &- lastSequence != steps || header.timestamp &- lastTimestamp != ticks {
                    continuityErrors += 1
                    if firstContinuityError == nil {
                        firstContinuityError = "packets \(lastIndex) → \(k): sequence +\(header.sequenceNumber &- lastSequence) (expected +\(steps)), timestamp +\(header.timestamp &- lastTimestamp) (expected +\(ticks))"
                    }
                }
            }
            if firstKeyframeNs == nil && place.isKeyframeStart { firstKeyframeNs = nowNs }
            lastIndex = k
            lastSequence = header.sequenceNumber
            lastTimestamp = header.timestamp
            received += 1
            if k >= shared.windowStart.load(ordering: .acquiring) && k < shared.windowEnd.load(ordering: .acquiring) {
                inWindow += 1
                lastWindowIndex = k
                let due = shared.dueNs(frame: place.frame)
                histogram.record(nowNs > due ? nowNs - due : 0)
            }
        }
    }

    /// The reader stops taking part (its fd stays open until close()).
    func end(_ why: String) {
        if ended == nil { ended = why }
    }

    func close() {
        for fd in [fd, rtpFD, rtcpFD] where fd >= 0 { Glibc.close(fd) }
        (fd, rtpFD, rtcpFD) = (-1, -1, -1)
    }

    deinit { close() }
}
