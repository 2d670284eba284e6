import Glibc
@testable import UringRelay

/// A byte-exact SMTP client over a blocking socket, for the cases no real client can send
/// (smuggling sequences, pipelined bursts, bare line endings): write raw bytes, read whole
/// replies with the relay's own reply parser.
final class SMTPTestClient {
    let socket: ClientSocket
    private var parser = SMTPReplyParser()
    private var ready: [UpstreamReply] = []

    init(_ address: SocketAddress, timeout: Double = 10) throws {
        socket = ClientSocket(try Blocking.connect(address, timeout: timeout))
    }

    func send(_ text: String) throws { try Blocking.writeAll(socket.fd, Array(text.utf8)) }
    func send(_ bytes: [UInt8]) throws { try Blocking.writeAll(socket.fd, bytes) }

    /// The next reply; throws at EOF or timeout.
    func reply() throws -> UpstreamReply {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while ready.isEmpty {
            let n = try chunk.withUnsafeMutableBytes { try Blocking.readSome(socket.fd, $0) }
            if n == 0 { throw PeerError(operation: "SMTP reply: connection closed", code: 0) }
            ready += try parser.parse(Array(chunk[0..<n]))
        }
        return ready.removeFirst()
    }

    /// The codes of the next `count` replies.
    func codes(_ count: Int) throws -> [Int] { try (0..<count).map { _ in try reply().code } }

    /// Sends `line` + CRLF and returns the reply code.
    func command(_ line: String) throws -> Int {
        try send(line + "\r\n")
        return try reply().code
    }

    /// Reads the greeting and says EHLO; returns the EHLO reply.
    @discardableResult
    func hello(_ name: String = "client.test") throws -> UpstreamReply {
        let greeting = try reply()
        guard greeting.code == 220 else { throw PeerError(operation: "greeting \(greeting.code)", code: 0) }
        try send("EHLO \(name)\r\n")
        return try reply()
    }

    /// True once the relay has closed the connection (EOF or reset) within `seconds`.
    func closedByPeer(within seconds: Double = 5) -> Bool {
        let (ending, _, _) = Blocking.awaitEnding(socket.fd, within: seconds)
        return ending.isClosed
    }

    func close() { socket.close() }
}
