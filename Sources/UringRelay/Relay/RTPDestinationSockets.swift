import Glibc

/// A destination's own pair of connected UDP sockets: RTP to its port, RTCP to port + 1.
///
/// Why connected sockets and not sends from the listen sockets: the kernel reports an ICMP
/// port unreachable only to a connected UDP socket (as ECONNREFUSED on its next send); an
/// unconnected listen socket would either ignore it or, with IP_RECVERR, fail the next send
/// to whichever destination comes next. One socket per destination puts the error on the
/// destination it belongs to, and gives each destination its own send buffer, so one that
/// cannot keep up fills only its own (EAGAIN, counted against it).
///
/// Why port 0 (an ephemeral source port) rather than the listen port shared through
/// SO_REUSEPORT: receivers configured with `--to` (or from an SDP naming the relay) do not
/// check the source port, while a port shared by 2 × N connected sockets makes the kernel
/// score every socket of the group for each datagram arriving on it — the source's RTP
/// stream included — and lets any process of the same user bind into the group. Reports
/// still go to the listen PORT + 1, where they are read; these sockets are never read, so
/// their receive buffer is the kernel's minimum (a receiver sending to them fills only that).
struct RTPDestinationSockets {
    let rtp: Int32
    let rtcp: Int32

    /// Smallest receive buffer: the kernel rounds it up to its minimum.
    static var unreadReceiveBufferBytes: Int32 { 1024 }

    /// Binds both to `listen`'s address with port 0 and connects them to `destination` and its
    /// port + 1.
    static func open(listen: SocketAddress, destination: SocketAddress) throws(SystemError) -> RTPDestinationSockets {
        let local = listen.withPort(0)
        let rtp = try Socket.makeConnectedDatagramSocket(local: local, remote: destination,
                                                         receiveBuffer: unreadReceiveBufferBytes)
        do {
            let rtcp = try Socket.makeConnectedDatagramSocket(local: local, remote: destination.withPort(destination.port + 1),
                                                              receiveBuffer: unreadReceiveBufferBytes)
            return RTPDestinationSockets(rtp: rtp, rtcp: rtcp)
        } catch {
            Glibc.close(rtp)
            throw error
        }
    }
}
