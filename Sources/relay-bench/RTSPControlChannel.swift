import Glibc
import UringRelay

/// A blocking RTSP client connection to the relay for the requests before media flows
/// (ANNOUNCE/SETUP/RECORD, DESCRIBE/SETUP/PLAY): one request, then its response. Reads are
/// bounded by SO_RCVTIMEO; bytes after the last response (the first media frames, when the
/// relay starts sending right after its PLAY reply) stay in `leftover` for the reader.
final class RTSPControlChannel {
    let fd: Int32
    private var cseq = 0
    private(set) var leftover: [UInt8] = []
    private let parser = RTSPStreamParser()
    /// A response larger than this (the relay's SDP is a few hundred bytes) is a broken peer.
    static let maxResponseBytes = 64 << 10

    /// Connects to the relay; `timeoutSeconds` bounds every later read.
    init(port: UInt16, timeoutSeconds: Int = 5) throws(SystemError) {
        fd = try LoopbackClient.connect(port: port)
        LoopbackClient.setReceiveTimeout(fd, seconds: timeoutSeconds)
    }

    /// Sends `method uri` with CSeq and `headers`, returns the response (status checked by the
    /// caller). Interleaved frames that arrive before it (none should) are skipped.
    func request(_ method: String, _ uri: String, headers: [(String, String)] = [], body: [UInt8] = []) -> Result<RTSPMessage, RTSPBenchError> {
        cseq += 1
        let message = RTSPMessage(request: method, uri: uri, headers: [("CSeq", String(cseq))] + headers, body: body)
        let bytes = message.serialized()
        guard bytes.withUnsafeBytes({ LoopbackClient.writeAll(fd, $0.baseAddress!, $0.count) }) else {
            return .failure(RTSPBenchError("\(method): send: \(errnoName(errno))"))
        }
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let (item, consumed) = parser.next(leftover)
            switch item {
            case .message(let m):
                leftover.removeFirst(consumed)
                guard m.status != nil else { continue }  // a request from the relay: not expected, not answered
                guard m.cseq == String(cseq) else { return .failure(RTSPBenchError("\(method): response with CSeq \(m.cseq ?? "none"), sent \(cseq)")) }
                return .success(m)
            case .interleaved:
                leftover.removeFirst(consumed)
            case .invalid(let why):
                return .failure(RTSPBenchError("\(method): unparsable response: \(why)"))
            case .needMore:
                guard leftover.count < Self.maxResponseBytes else { return .failure(RTSPBenchError("\(method): response over \(Self.maxResponseBytes) bytes")) }
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
                if n > 0 { leftover += chunk[0..<n]; continue }
                if n < 0 && errno == EINTR { continue }
                let why = n == 0 ? "connection closed" : (errno == EAGAIN ? "no response within the timeout" : errnoName(errno))
                return .failure(RTSPBenchError("\(method): \(why)"))
            }
        }
    }

    /// `request`, and the response must be 200.
    func expectOK(_ method: String, _ uri: String, headers: [(String, String)] = [], body: [UInt8] = []) -> Result<RTSPMessage, RTSPBenchError> {
        switch request(method, uri, headers: headers, body: body) {
        case .failure(let e): return .failure(e)
        case .success(let m) where m.status == RTSPStatus.ok: return .success(m)
        case .success(let m):
            if case .response(let status, let reason) = m.startLine { return .failure(RTSPBenchError("\(method): \(status) \(reason)")) }
            return .failure(RTSPBenchError("\(method): not a response"))
        }
    }

    /// The Session header's id (`ID;timeout=60` → `ID`).
    static func sessionID(_ m: RTSPMessage) -> String? {
        guard let s = m.header("Session") else { return nil }
        let id = (s.split(separator: ";", maxSplits: 1).first ?? "").filter { $0 != " " && $0 != "\t" }
        return id.isEmpty ? nil : String(id)
    }

    /// The bytes read past the last response, handed over once.
    func takeLeftover() -> [UInt8] {
        defer { leftover = [] }
        return leftover
    }
}
