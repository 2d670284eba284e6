#if canImport(Glibc)
import Glibc
#endif
import CURing

extension Socket {
    /// A nonblocking, CLOEXEC UDP socket bound to `address` (IPV6_V6ONLY on IPv6 unless
    /// `dualStack` and the address is `::`, which then serves IPv4 peers as IPv4-mapped
    /// addresses too), with the given kernel buffer sizes if set (the kernel may cap them at
    /// net.core.[rw]mem_max).
    public static func makeDatagramSocket(_ address: SocketAddress, receiveBuffer: Int32? = nil,
                                          sendBuffer: Int32? = nil, dualStack: Bool = false) throws(SystemError) -> Int32 {
        let fd = socket(address.family, CURING_SOCK_DGRAM | CURING_SOCK_NONBLOCK | CURING_SOCK_CLOEXEC, 0)
        if fd < 0 { throw SystemError.lastError("socket \(address)") }
        do throws(SystemError) {
            if address.family == AF_INET6 {
                var one: Int32 = dualStack && address.ipString == "::" ? 0 : 1
                if setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) != 0 {
                    throw SystemError.lastError("setsockopt IPV6_V6ONLY \(address)")
                }
            }
            if receiveBuffer != nil || sendBuffer != nil {
                try setBufferSizes(fd, send: sendBuffer, recv: receiveBuffer)
            }
            let rc = address.withSockAddr { bind(fd, $0, $1) }
            if rc != 0 { throw SystemError.lastError("bind \(address)") }
            return fd
        } catch {
            close(fd)
            throw error
        }
    }
}

extension Socket {
    /// A nonblocking, CLOEXEC UDP socket bound to `local` and connected to `remote`: plain
    /// `send` goes to `remote`, only `remote` can send to it, and an ICMP port unreachable for
    /// what it sent comes back as ECONNREFUSED on a later send (the kernel reports ICMP errors
    /// only to connected UDP sockets, unless IP_RECVERR). `receiveBuffer` caps what `remote`
    /// can queue on it if nobody reads it.
    public static func makeConnectedDatagramSocket(local: SocketAddress, remote: SocketAddress,
                                                   receiveBuffer: Int32? = nil) throws(SystemError) -> Int32 {
        let fd = try makeDatagramSocket(local, receiveBuffer: receiveBuffer)
        let rc = remote.withSockAddr { Glibc.connect(fd, $0, $1) }
        if rc != 0 {
            let e = SystemError.lastError("connect \(remote)")
            close(fd)
            throw e
        }
        return fd
    }
}
