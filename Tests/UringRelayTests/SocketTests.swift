#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import UringRelay

@Suite struct SocketTests {
    // MARK: helpers

    private func intOption(_ fd: Int32, _ level: Int32, _ name: Int32) -> Int32 {
        var v: Int32 = -1
        var len = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, level, name, &v, &len)
        return v
    }

    private func isNonBlocking(_ fd: Int32) -> Bool { fcntl(fd, F_GETFL) & O_NONBLOCK != 0 }
    private func isCloseOnExec(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) & FD_CLOEXEC != 0 }

    /// Waits until `fd` is ready for `events`; false on timeout.
    private func waitFor(_ fd: Int32, _ events: Int32, ms: Int32 = 2000) -> Bool {
        var p = pollfd(fd: fd, events: Int16(events), revents: 0)
        return poll(&p, 1, ms) == 1
    }

    /// Connects a client to `listener`'s address and accepts it: (client, server side).
    private func connectedPair(listener: Int32) throws -> (Int32, Int32) {
        let addr = try Socket.localAddress(of: listener)
        let client = try Socket.makeStreamSocket(family: addr.family)
        let rc = addr.withSockAddr { connect(client, $0, $1) }
        if rc != 0 { #expect(errno == EINPROGRESS) }
        #expect(waitFor(client, Int32(POLLOUT)))
        #expect(waitFor(listener, Int32(POLLIN)))
        let server = accept(listener, nil, nil)
        try #require(server >= 0)
        return (client, server)
    }

    // MARK: listeners

    @Test(arguments: ["127.0.0.1:0", "[::1]:0"])
    func listenerOnPortZeroGetsARealPort(_ text: String) throws {
        let requested = try SocketAddress.parse(text)
        let fd = try Socket.makeListener(requested, reusePort: false)
        defer { close(fd) }
        let bound = try Socket.localAddress(of: fd)
        #expect(bound.family == requested.family)
        #expect(bound.ipString == requested.ipString)
        #expect(bound.port != 0)
        #expect(isNonBlocking(fd))
        #expect(isCloseOnExec(fd))
        #expect(intOption(fd, SOL_SOCKET, SO_REUSEADDR) != 0)
        #expect(intOption(fd, SOL_SOCKET, SO_ACCEPTCONN) != 0)
        if requested.family == AF_INET6 {
            #expect(intOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY) == 1)
        }
    }

    @Test(arguments: ["127.0.0.1:0", "[::1]:0"])
    func secondBindWithoutReusePortFails(_ text: String) throws {
        let first = try Socket.makeListener(try SocketAddress.parse(text), reusePort: false)
        defer { close(first) }
        let bound = try Socket.localAddress(of: first)
        do {
            let second = try Socket.makeListener(bound, reusePort: false)
            close(second)
            Issue.record("second bind to \(bound) succeeded")
        } catch {
            #expect(error.errno == EADDRINUSE)
            #expect(error.operation == "bind \(bound)")
            #expect(error.description.contains("EADDRINUSE"), "\(error)")
            #expect(error.description.hasPrefix("bind \(bound): "), "\(error)")
        }
    }

    @Test func reusePortAllowsTwoListenersOnOnePort() throws {
        let first = try Socket.makeListener(.ipv4Loopback(port: 0), reusePort: true)
        defer { close(first) }
        let bound = try Socket.localAddress(of: first)
        let second = try Socket.makeListener(bound, reusePort: true)
        defer { close(second) }
        #expect(try Socket.localAddress(of: second) == bound)
        #expect(intOption(second, SOL_SOCKET, SO_REUSEPORT) != 0)
    }

    @Test func failedListenerDoesNotLeak() throws {
        // TEST-NET-1 is not a local address: bind fails with EADDRNOTAVAIL.
        let addr = try SocketAddress.parse("192.0.2.1:0")
        try expectFdCountSettles {
            do throws(SystemError) {
                let fd = try Socket.makeListener(addr, reusePort: false)
                close(fd)
                Issue.record("bind to \(addr) succeeded")
            } catch {
                #expect(error.errno == EADDRNOTAVAIL)
                #expect(error.description == "bind 192.0.2.1:0: \(String(cString: strerror(EADDRNOTAVAIL))) (EADDRNOTAVAIL)")
            }
        }
    }

    // MARK: stream sockets

    /// Swift Testing runs tests in parallel, so other tests may open fds meanwhile;
    /// retry until one clean measurement shows the expected delta.
    private func expectFdCountSettles(delta: Int = 0, _ body: () throws -> Void) throws {
        var last = (0, 0)
        for _ in 0..<50 {
            let before = Socket.openFileDescriptorCount()
            try body()
            let after = Socket.openFileDescriptorCount()
            if after - before == delta { return }
            last = (before, after)
            usleep(10_000)
        }
        Issue.record("fd count never changed by \(delta): last \(last.0) -> \(last.1)")
    }

    @Test func fdCountFollowsMakeStreamSocketAndClose() throws {
        #expect(Socket.openFileDescriptorCount() > 0)
        var ok = false
        for _ in 0..<50 where !ok {
            let before = Socket.openFileDescriptorCount()
            let fd = try Socket.makeStreamSocket(family: AF_INET)
            let during = Socket.openFileDescriptorCount()
            close(fd)
            let after = Socket.openFileDescriptorCount()
            ok = during == before + 1 && after == before
            if !ok { usleep(10_000) }
        }
        #expect(ok, "fd count did not go +1 after makeStreamSocket and back after close")
    }

    @Test(arguments: [AF_INET, AF_INET6])
    func streamSocketOptions(_ family: Int32) throws {
        let fd = try Socket.makeStreamSocket(family: family)
        defer { close(fd) }
        #expect(isNonBlocking(fd))
        #expect(isCloseOnExec(fd))
        #expect(intOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY) != 0)
        #expect(intOption(fd, SOL_SOCKET, SO_TYPE) == Int32(SOCK_STREAM.rawValue))
    }

    @Test func streamSocketBadFamily() {
        do {
            let fd = try Socket.makeStreamSocket(family: 12345)
            close(fd)
            Issue.record("socket with family 12345 succeeded")
        } catch {
            #expect(error.operation == "socket family 12345")
            #expect(error.errno != 0)
        }
    }

    @Test(arguments: ["127.0.0.1:0", "[::1]:0"])
    func peerAndLocalAddressesMatch(_ text: String) throws {
        let listener = try Socket.makeListener(try SocketAddress.parse(text), reusePort: false)
        defer { close(listener) }
        let (client, server) = try connectedPair(listener: listener)
        defer { close(client); close(server) }
        #expect(try Socket.peerAddress(of: client) == (try Socket.localAddress(of: listener)))
        #expect(try Socket.peerAddress(of: server) == (try Socket.localAddress(of: client)))
        #expect(try Socket.localAddress(of: server) == (try Socket.localAddress(of: listener)))
    }

    @Test func peerAddressOfUnconnectedSocketFails() throws {
        let fd = try Socket.makeStreamSocket(family: AF_INET)
        defer { close(fd) }
        do {
            let a = try Socket.peerAddress(of: fd)
            Issue.record("unconnected socket has a peer \(a)")
        } catch {
            #expect(error.errno == ENOTCONN)
            #expect(error.description.contains("ENOTCONN"))
        }
    }

    @Test func lingerZeroMakesCloseSendRST() throws {
        let listener = try Socket.makeListener(.ipv4Loopback(port: 0), reusePort: false)
        defer { close(listener) }
        let (client, server) = try connectedPair(listener: listener)
        defer { close(server) }
        try Socket.setLingerZero(client)
        var lg = linger()
        var len = socklen_t(MemoryLayout<linger>.size)
        #expect(getsockopt(client, SOL_SOCKET, SO_LINGER, &lg, &len) == 0)
        #expect(lg.l_onoff == 1 && lg.l_linger == 0)
        close(client)
        #expect(waitFor(server, Int32(POLLIN)))
        var byte: UInt8 = 0
        let n = recv(server, &byte, 1, 0)
        #expect(n == -1 && errno == ECONNRESET, "recv returned \(n), errno \(errnoName(errno))")
    }

    @Test func setNonBlockingOnABlockingSocket() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        #expect(!isNonBlocking(fd))
        try Socket.setNonBlocking(fd)
        #expect(isNonBlocking(fd))
        try Socket.setNonBlocking(fd)  // idempotent
        #expect(isNonBlocking(fd))
    }

    @Test func setNoDelayAndBufferSizes() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        try Socket.setNoDelay(fd)
        #expect(intOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY) != 0)
        try Socket.setBufferSizes(fd, send: 64 * 1024, recv: 128 * 1024)
        #expect(intOption(fd, SOL_SOCKET, SO_SNDBUF) >= 64 * 1024)
        #expect(intOption(fd, SOL_SOCKET, SO_RCVBUF) >= 128 * 1024)
        try Socket.setBufferSizes(fd, send: nil, recv: nil)
    }

    @Test func optionsOnABadFdReportEBADF() {
        do {
            try Socket.setNoDelay(-1)
            Issue.record("setNoDelay(-1) succeeded")
        } catch {
            #expect(error.errno == EBADF)
            #expect(error.description.hasPrefix("setsockopt TCP_NODELAY fd -1: "))
            #expect(error.description.hasSuffix("(EBADF)"))
        }
    }

    // MARK: SystemError

    static let names: [(Int32, String)] = [
        (EPERM, "EPERM"), (ENOENT, "ENOENT"), (EINTR, "EINTR"), (EAGAIN, "EAGAIN"),
        (ENOMEM, "ENOMEM"), (EACCES, "EACCES"), (EINVAL, "EINVAL"), (EMFILE, "EMFILE"),
        (ENFILE, "ENFILE"), (ENOSYS, "ENOSYS"), (EPIPE, "EPIPE"), (ECONNREFUSED, "ECONNREFUSED"),
        (ECONNRESET, "ECONNRESET"), (ECONNABORTED, "ECONNABORTED"), (ETIMEDOUT, "ETIMEDOUT"),
        (EADDRINUSE, "EADDRINUSE"), (EADDRNOTAVAIL, "EADDRNOTAVAIL"), (ENETUNREACH, "ENETUNREACH"),
        (EHOSTUNREACH, "EHOSTUNREACH"), (ENOBUFS, "ENOBUFS"), (ECANCELED, "ECANCELED"),
        (ENOTCONN, "ENOTCONN"), (EALREADY, "EALREADY"), (EINPROGRESS, "EINPROGRESS"),
        (EBADF, "EBADF"), (ENOTSOCK, "ENOTSOCK"), (ETIME, "ETIME"), (EOPNOTSUPP, "EOPNOTSUPP"),
        (EWOULDBLOCK, "EAGAIN"), (4095, "errno 4095"), (0, "errno 0"),
    ]

    @Test(arguments: names)
    func errnoNames(_ e: Int32, _ name: String) {
        #expect(errnoName(e) == name)
    }

    @Test func systemErrorDescription() {
        let e = SystemError(operation: "bind 127.0.0.1:9000", errno: EADDRINUSE)
        #expect(e.description == "bind 127.0.0.1:9000: Address already in use (EADDRINUSE)")
        #expect("\(e)" == e.description)
    }
}

@Suite struct DualStackListenerTests {
    /// "[::]:P" is every client: an IPv4 client reaches it as an IPv4-mapped address.
    @Test func unspecifiedIPv6ListenerTakesIPv4Clients() throws {
        let listener = try Socket.makeListener(.ipv6Any(port: 0), reusePort: false)
        defer { close(listener) }
        var v6only: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(listener, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &v6only, &length)
        #expect(v6only == 0)
        let port = try Socket.localAddress(of: listener).port
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        let rc = SocketAddress.ipv4Loopback(port: port).withSockAddr { connect(client, $0, $1) }
        #expect(rc == 0, "IPv4 connect to [::]:\(port): errno \(errno)")
    }
}
