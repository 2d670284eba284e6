#if canImport(Glibc)
import Glibc
#endif
import CURing

/// Socket creation and options. Every fd is CLOEXEC; stream sockets are NONBLOCK.
/// Failures throw `SystemError` whose operation names the call and the address ("bind [::1]:9000").
/// On failure inside a make* function the half-made fd is closed.
public enum Socket {
    private static let streamType = CURING_SOCK_STREAM | CURING_SOCK_NONBLOCK | CURING_SOCK_CLOEXEC

    /// A nonblocking listening TCP socket bound to `address`.
    /// Sets SO_REUSEADDR, SO_REUSEPORT when `reusePort`, and IPV6_V6ONLY: off for the
    /// unspecified address, so "[::]:P" means every client, IPv4 ones too (as IPv4-mapped
    /// addresses), whatever net.ipv6.bindv6only says; on for any other IPv6 address.
    public static func makeListener(_ address: SocketAddress, reusePort: Bool, backlog: Int32 = 4096) throws(SystemError) -> Int32 {
        let fd = socket(address.family, streamType, 0)
        if fd < 0 { throw SystemError.lastError("socket \(address)") }
        do throws(SystemError) {
            try setIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt SO_REUSEADDR \(address)")
            if reusePort {
                try setIntOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt SO_REUSEPORT \(address)")
            }
            if address.family == AF_INET6 {
                let v6only: Int32 = address.ipString == "::" ? 0 : 1
                try setIntOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, v6only, "setsockopt IPV6_V6ONLY \(address)")
            }
            let rc = address.withSockAddr { bind(fd, $0, $1) }
            if rc != 0 { throw SystemError.lastError("bind \(address)") }
            if listen(fd, backlog) != 0 { throw SystemError.lastError("listen \(address)") }
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    /// A nonblocking TCP socket (AF_INET or AF_INET6) with TCP_NODELAY on, ready for connect.
    public static func makeStreamSocket(family: Int32) throws(SystemError) -> Int32 {
        let fd = socket(family, streamType, 0)
        if fd < 0 { throw SystemError.lastError("socket family \(family)") }
        do throws(SystemError) {
            try setNoDelay(fd)
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    /// getsockname: the bound address (the real port after binding port 0).
    public static func localAddress(of fd: Int32) throws(SystemError) -> SocketAddress {
        var st = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutableBytes(of: &st) { raw in
            getsockname(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &len)
        }
        if rc != 0 { throw SystemError.lastError("getsockname fd \(fd)") }
        return SocketAddress(storage: st, length: len)
    }

    /// getpeername: the connected peer (ENOTCONN before the connection is established).
    public static func peerAddress(of fd: Int32) throws(SystemError) -> SocketAddress {
        var st = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutableBytes(of: &st) { raw in
            getpeername(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &len)
        }
        if rc != 0 { throw SystemError.lastError("getpeername fd \(fd)") }
        return SocketAddress(storage: st, length: len)
    }

    /// TCP_NODELAY = 1.
    public static func setNoDelay(_ fd: Int32) throws(SystemError) {
        try setIntOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1, "setsockopt TCP_NODELAY fd \(fd)")
    }

    /// SO_LINGER {on, 0 s}: close() then sends RST instead of FIN (abortive close).
    public static func setLingerZero(_ fd: Int32) throws(SystemError) {
        var lg = linger(l_onoff: 1, l_linger: 0)
        if setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, socklen_t(MemoryLayout<linger>.size)) != 0 {
            throw SystemError.lastError("setsockopt SO_LINGER fd \(fd)")
        }
    }

    /// O_NONBLOCK on (for fds that did not come from the make* functions, e.g. accept without flags).
    public static func setNonBlocking(_ fd: Int32) throws(SystemError) {
        let flags = fcntl(fd, F_GETFL)
        if flags < 0 { throw SystemError.lastError("fcntl F_GETFL fd \(fd)") }
        if flags & O_NONBLOCK != 0 { return }
        if fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 {
            throw SystemError.lastError("fcntl F_SETFL O_NONBLOCK fd \(fd)")
        }
    }

    /// SO_SNDBUF / SO_RCVBUF; nil leaves that one alone. The kernel doubles and caps the values.
    public static func setBufferSizes(_ fd: Int32, send: Int32?, recv: Int32?) throws(SystemError) {
        if let send {
            try setIntOption(fd, SOL_SOCKET, SO_SNDBUF, send, "setsockopt SO_SNDBUF fd \(fd)")
        }
        if let recv {
            try setIntOption(fd, SOL_SOCKET, SO_RCVBUF, recv, "setsockopt SO_RCVBUF fd \(fd)")
        }
    }

    /// Number of open fds of this process (entries in /proc/self/fd, not counting the one
    /// used to read the directory). -1 if /proc is unavailable. For fd-leak checks in tests.
    public static func openFileDescriptorCount() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return -1 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                raw[0] == UInt8(ascii: ".") && (raw[1] == 0 || (raw[1] == UInt8(ascii: ".") && raw[2] == 0))
            }
            if !isDot { count += 1 }
        }
        return count - 1  // the directory stream's own fd
    }

    private static func setIntOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32,
                                     _ operation: @autoclosure () -> String) throws(SystemError) {
        var v = value
        if setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            throw SystemError.lastError(operation())  // errno is read first
        }
    }
}
