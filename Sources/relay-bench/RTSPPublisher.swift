import CURing
import Glibc
import UringRelay

/// The rtsp scenario's source: ANNOUNCE (the stream's SDP), SETUP (TCP interleaved, channels
/// 0-1, mode=record), RECORD on a publish path of the relay, then RTP in `$` frames on the
/// same connection.
///
/// Open loop, as a camera: frame f is due at t0 + f/fps whatever happened before, and all its
/// packets go in one write at that time. A relay that does not keep up blocks the write (TCP
/// backpressure) and shows as latency at the readers and as `maxLagNs` here. Whatever the
/// relay sends back (RTCP receiver reports) is read and dropped between frames, so its queue
/// towards the publisher never fills. Written only by its thread once run; read after join().
final class RTSPPublisher: @unchecked Sendable {
    // @unchecked: after start() only the publisher thread touches the fields; the owner reads
    // them after join(), which orders the accesses.
    private let channel: RTSPControlChannel
    private(set) var error: String?
    /// Longest time from a frame's due time to the end of its write.
    private(set) var maxLagNs: UInt64 = 0

    /// Connects and runs ANNOUNCE/SETUP/RECORD on `rtsp://127.0.0.1:port/path`.
    static func start(port: UInt16, path: String, stream: RTSPBenchStream) -> Result<RTSPPublisher, RTSPBenchError> {
        let channel: RTSPControlChannel
        do { channel = try RTSPControlChannel(port: port) } catch { return .failure(RTSPBenchError("connect: \(error)")) }
        let url = "rtsp://127.0.0.1:\(port)/\(path)"
        var session: String?
        let steps: [() -> Result<RTSPMessage, RTSPBenchError>] = [
            { channel.expectOK("ANNOUNCE", url, headers: [("Content-Type", "application/sdp")], body: Array(stream.sessionDescription.utf8)) },
            // The relay opens the publisher's session at ANNOUNCE; SETUP names it.
            { channel.expectOK("SETUP", url + "/trackID=0", headers: [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record")]
                                   + (session.map { [("Session", $0)] } ?? [])) },
            { channel.expectOK("RECORD", url, headers: [("Session", session ?? ""), ("Range", "npt=0.000-")]) },
        ]
        for step in steps {
            switch step() {
            case .failure(let e):
                Glibc.close(channel.fd)
                return .failure(e)
            case .success(let reply):
                if session == nil { session = RTSPControlChannel.sessionID(reply) }
            }
        }
        // A relay that stops reading must not hang the run: a write blocked this long fails.
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(channel.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return .success(RTSPPublisher(channel: channel))
    }

    private init(channel: RTSPControlChannel) { self.channel = channel }

    /// Sends frames from 0 until `shared.endFrame`, then marks the end; on the calling thread.
    func run(shared: RTSPLoadShared, cpu: Int?) {
        CPUPinning.pinCurrentThread(cpu)
        defer {
            shared.publisherEndNs.store(MonotonicClock.nowNs(), ordering: .relaxed)
            shared.publisherDone.store(true, ordering: .releasing)
        }
        let stream = shared.stream
        let frameCapacity = (stream.packetsPerKeyframe + stream.packetsPerDeltaFrame) * (4 + stream.maxPacketBytes)
        let frame = UnsafeMutableRawPointer.allocate(byteCount: frameCapacity, alignment: 16)
        defer { frame.deallocate() }
        let drain = UnsafeMutableRawPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { drain.deallocate() }
        var f = 0
        while f < shared.endFrame.load(ordering: .acquiring) {
            let due = shared.dueNs(frame: f)
            RequestResponseLoad.sleep(untilNs: due)
            let first = stream.firstPacket(ofFrame: f), end = stream.firstPacket(ofFrame: f + 1)
            var used = 0
            for k in first..<end {
                let n = RTSPBenchPayload.write(k, of: stream, dueNs: due, into: frame + used + 4)
                frame.storeBytes(of: 0x24, toByteOffset: used, as: UInt8.self)  // '$'
                frame.storeBytes(of: 0, toByteOffset: used + 1, as: UInt8.self)  // channel 0: RTP
                frame.storeBytes(of: UInt16(n).bigEndian, toByteOffset: used + 2, as: UInt16.self)
                used += 4 + n
            }
            guard LoopbackClient.writeAll(channel.fd, frame, used) else {
                error = "frame \(f): send: \(errnoName(errno))"
                return
            }
            let now = MonotonicClock.nowNs()
            maxLagNs = max(maxLagNs, now > due ? now - due : 0)
            shared.sent.store(end, ordering: .releasing)
            while recv(channel.fd, drain, 64 << 10, Int32(MSG_DONTWAIT)) > 0 {}
            f += 1
        }
    }

    func close() { Glibc.close(channel.fd) }
}
