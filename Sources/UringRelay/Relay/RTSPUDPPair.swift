import Glibc

/// The server's UDP port pair (RTP on an even port, RTCP on the next) that every UDP reader
/// and publisher shares, bound before the worker starts so a taken port fails start-up.
public struct RTSPUDPPair: Sendable {
    public let rtpFd: Int32
    public let rtcpFd: Int32
    public let rtpPort: UInt16

    /// Binds `host`'s address on `rtpPort` and `rtpPort + 1`; with 0, a free even/odd pair.
    public static func bind(host: SocketAddress, rtpPort: UInt16) throws(SystemError) -> RTSPUDPPair {
        // Readers' receiver reports and a publisher's media are small, but bursts of a
        // high-rate publisher must not overflow the default buffer.
        let receive: Int32 = 4 << 20
        func pair(_ port: UInt16) throws(SystemError) -> RTSPUDPPair {
            let rtp = try Socket.makeDatagramSocket(host.withPort(port), receiveBuffer: receive)
            do {
                let rtcp = try Socket.makeDatagramSocket(host.withPort(port + 1), receiveBuffer: receive)
                return RTSPUDPPair(rtpFd: rtp, rtcpFd: rtcp, rtpPort: port)
            } catch {
                Glibc.close(rtp)
                throw error
            }
        }
        if rtpPort != 0 { return try pair(rtpPort) }
        // A free even port whose odd neighbour is free too: ask the kernel for any port and
        // try its even half, a few times.
        var lastError = SystemError(operation: "bind an even/odd UDP port pair on \(host)", errno: EADDRINUSE)
        for _ in 0..<64 {
            let probe = try Socket.makeDatagramSocket(host.withPort(0))
            let port = (try? Socket.localAddress(of: probe))?.port ?? 0
            Glibc.close(probe)
            let even = port & ~1
            guard even > 1024 && even < 65534 else { continue }
            do { return try pair(even) } catch { lastError = error }
        }
        throw lastError
    }

    public func close() {
        Glibc.close(rtpFd)
        Glibc.close(rtcpFd)
    }
}
