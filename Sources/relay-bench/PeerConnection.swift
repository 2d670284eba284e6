/// One accepted upstream-side connection of BenchPeer (owned by the peer thread).
final class PeerConnection {
    let fd: Int32
    var hello: [UInt8] = []
    var parsed: PeerHello?
    /// Sink: stream bytes received after the hello.
    var record = SinkRecord()
    /// Echo: bytes not yet sent back (from pendingOffset on).
    var pending: [UInt8] = []
    var pendingOffset = 0
    var wantsWrite = false

    init(fd: Int32) { self.fd = fd }
}
