import Glibc
import CURing
import UringRelay

/// Blocking TCP client sockets to 127.0.0.1 (load generators are plain blocking code).
enum LoopbackClient {
    /// A connected, blocking socket with TCP_NODELAY; CLOEXEC so relay children never inherit it.
    static func connect(port: UInt16) throws(SystemError) -> Int32 {
        let fd = try Socket.makeStreamSocket(family: AF_INET)
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        let address = SocketAddress.ipv4Loopback(port: port)
        while true {
            let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
            if rc == 0 { return fd }
            let e = errno
            if e == EINTR { continue }
            close(fd)
            throw SystemError(operation: "connect \(address)", errno: e)
        }
    }

    /// Writes all of `count` bytes; false on error (errno set).
    static func writeAll(_ fd: Int32, _ p: UnsafeRawPointer, _ count: Int) -> Bool {
        var off = 0
        while off < count {
            let r = send(fd, p + off, count - off, CURING_MSG_NOSIGNAL)
            if r > 0 { off += r; continue }
            if r < 0 && errno == EINTR { continue }
            return false
        }
        return true
    }

    /// SO_RCVTIMEO, so a blocking read cannot hang a run forever.
    static func setReceiveTimeout(_ fd: Int32, seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// A port that was free a moment ago on 127.0.0.1 (bound to port 0, read back, closed).
    static func freePort() throws(SystemError) -> UInt16 {
        let fd = try Socket.makeListener(.ipv4Loopback(port: 0), reusePort: false, backlog: 1)
        defer { close(fd) }
        return try Socket.localAddress(of: fd).port
    }
}
