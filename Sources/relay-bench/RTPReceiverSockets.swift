import Glibc
import UringRelay

/// The rtp scenario's receivers: UDP sockets on free loopback ports, each one `--to` of the
/// relay. Made before the relay starts (it needs their addresses), closed when released.
final class RTPReceiverSockets {
    let fds: [Int32]
    let addresses: [SocketAddress]

    /// `receiveBufferBytes` absorbs the receiver thread's scheduling delays on the load CPU.
    init(count: Int, receiveBufferBytes: Int32) throws(SystemError) {
        var fds: [Int32] = []
        var addresses: [SocketAddress] = []
        do throws(SystemError) {
            while fds.count < count {
                let fd = try Socket.makeDatagramSocket(.ipv4Loopback(port: 0), receiveBuffer: receiveBufferBytes)
                let a = try Socket.localAddress(of: fd)
                // The relay sends this receiver's RTCP to port + 1, so 65535 cannot be an RTP port.
                if a.port == 65535 {
                    close(fd)
                    continue
                }
                fds.append(fd)
                addresses.append(a)
            }
        } catch {
            for fd in fds { close(fd) }
            throw error
        }
        self.fds = fds
        self.addresses = addresses
    }

    /// `--to HOST:PORT` for each receiver.
    var relayArguments: [String] { addresses.flatMap { ["--to", "\($0)"] } }

    deinit { for fd in fds { close(fd) } }
}
