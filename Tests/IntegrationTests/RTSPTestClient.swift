import Glibc
import Testing
@testable import UringRelay

/// A scripted RTSP client over a blocking socket, for byte-exact protocol cases: it sends the
/// requests a test writes, reads replies and interleaved frames with the relay's own parser,
/// and can publish (ANNOUNCE/RECORD, then RTP frames) or read media. Used by one thread at a
/// time (a test hands it to a reader thread and joins it), hence the unchecked Sendable.
final class RTSPTestClient: @unchecked Sendable {
    let fd: Int32
    private var input: [UInt8] = []
    private var cseq = 0
    private let parser = RTSPStreamParser()
    /// Interleaved frames received while waiting for a reply, in order.
    var frames: [(channel: UInt8, payload: [UInt8])] = []
    var sessionID: String?

    init(_ address: SocketAddress, receiveBuffer: Int32? = nil) throws {
        fd = try Blocking.connect(address, bufferSize: receiveBuffer)
        Blocking.setTimeouts(fd, seconds: 10)
    }

    deinit { close() }

    /// Closes once: after that the fd number may belong to another socket.
    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }
    private var closed = false

    /// Sends a request with the next CSeq (and the session, if any and not overridden).
    @discardableResult
    func send(_ method: String, _ uri: String, _ headers: [(String, String)] = [], body: [UInt8] = [],
              withSession: Bool = true) throws -> String {
        cseq += 1
        var h: [(String, String)] = [("CSeq", String(cseq))]
        if withSession, let sessionID, !headers.contains(where: { $0.0 == "Session" }) { h.append(("Session", sessionID)) }
        h += headers
        try Blocking.writeAll(fd, RTSPMessage(request: method, uri: uri, headers: h, body: body).serialized())
        return String(cseq)
    }

    func sendRaw(_ bytes: [UInt8]) throws { try Blocking.writeAll(fd, bytes) }

    /// Reads until a whole RTSP message arrives; frames before it are kept in `frames`.
    func readMessage() throws -> RTSPMessage {
        while true {
            if let item = nextItem() {
                switch item {
                case .message(let m): return m
                case .frame(let c, let p): frames.append((c, p))
                }
                continue
            }
            try fill()
        }
    }

    /// `send` then `readMessage`, remembering the Session it names.
    func request(_ method: String, _ uri: String, _ headers: [(String, String)] = [], body: [UInt8] = [],
                 withSession: Bool = true) throws -> RTSPMessage {
        let sent = try send(method, uri, headers, body: body, withSession: withSession)
        let reply = try readMessage()
        #expect(reply.cseq == sent, "CSeq echoed")
        if let s = reply.header("Session"), let id = s.split(separator: ";").first { sessionID = String(id) }
        return reply
    }

    /// The next interleaved frame (replies in between are dropped into `replies`).
    func readFrame() throws -> (channel: UInt8, payload: [UInt8]) {
        if !frames.isEmpty { return frames.removeFirst() }
        while true {
            if let item = nextItem() {
                if case .frame(let c, let p) = item { return (c, p) }
                continue
            }
            try fill()
        }
    }

    func sendFrame(channel: UInt8, _ payload: [UInt8]) throws {
        try Blocking.writeAll(fd, [0x24, channel, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)] + payload)
    }

    /// Whether the relay closed the connection within `seconds` (reading and dropping data).
    func waitForClose(_ seconds: Double) -> Bool {
        Blocking.setTimeouts(fd, seconds: seconds)
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = now() + seconds
        while now() < deadline {
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
        return false
    }

    private enum Item {
        case message(RTSPMessage)
        case frame(UInt8, [UInt8])
    }

    private func nextItem() -> Item? {
        guard !input.isEmpty else { return nil }
        let (item, consumed) = parser.next(input)
        switch item {
        case .needMore: return nil
        case .invalid(let why):
            Issue.record("unparsable bytes from the relay: \(why)")
            input.removeAll()
            return nil
        case .message(let m):
            input.removeFirst(consumed)
            return .message(m)
        case .interleaved(let channel, let range):
            let payload = Array(input[range])
            input.removeFirst(consumed)
            return .frame(channel, payload)
        }
    }

    private func fill() throws {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = try buffer.withUnsafeMutableBytes { try Blocking.readSome(fd, $0) }
        if n == 0 { throw PeerError(operation: "read: the relay closed the connection", code: 0) }
        input += buffer[..<n]
    }
}

/// RTP packets a test publishes: H.264-like (payload type 96), numbered in the payload so a
/// reader can check every packet arrived whatever the relay rewrote in the header.
enum TestRTP {
    static func packet(sequence: UInt16, timestamp: UInt32, ssrc: UInt32, nal: [UInt8], marker: Bool = false) -> [UInt8] {
        var p: [UInt8] = [0x80, 96 | (marker ? 0x80 : 0)]
        p += [UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
        p += [UInt8(timestamp >> 24), UInt8((timestamp >> 16) & 0xFF), UInt8((timestamp >> 8) & 0xFF), UInt8(timestamp & 0xFF)]
        p += [UInt8(ssrc >> 24), UInt8((ssrc >> 16) & 0xFF), UInt8((ssrc >> 8) & 0xFF), UInt8(ssrc & 0xFF)]
        return p + nal
    }

    /// An IDR NAL (type 5) or a non-IDR slice (type 1) carrying `index` and filler.
    static func nal(keyframe: Bool, index: Int, bytes: Int = 64) -> [UInt8] {
        var n: [UInt8] = [keyframe ? 0x65 : 0x41]
        n += withUnsafeBytes(of: UInt32(index).bigEndian) { Array($0) }
        return n + [UInt8](repeating: 0xAB, count: max(0, bytes - n.count))
    }

    /// The index `nal` put in a packet's payload (12-byte header, no CSRC or extension).
    static func index(of packet: [UInt8]) -> Int? {
        guard packet.count >= 17 else { return nil }
        return Int(UInt32(packet[13]) << 24 | UInt32(packet[14]) << 16 | UInt32(packet[15]) << 8 | UInt32(packet[16]))
    }

    static let sps: [UInt8] = [0x67, 0x42, 0xC0, 0x1E, 0xD9, 0x03, 0xC5, 0x68, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0C, 0x03, 0xC5, 0x8B, 0x92]
    static let pps: [UInt8] = [0x68, 0xCB, 0x8C, 0xB2]

    /// The SDP a test publisher announces: one H.264 track with sprop-parameter-sets.
    static let sdp = Array("""
    v=0\r
    o=- 0 0 IN IP4 127.0.0.1\r
    s=test\r
    t=0 0\r
    m=video 0 RTP/AVP 96\r
    a=rtpmap:96 H264/90000\r
    a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==\r
    a=control:streamid=0\r

    """.utf8)
}
