/// How an RTSP peer carries RTP: interleaved on the RTSP connection, or as UDP datagrams to
/// ports negotiated in SETUP. The relay must handle both on either side.
enum RTSPMediaTransport: String, CaseIterable, Sendable, CustomStringConvertible {
    case tcp
    case udp

    var description: String { rawValue }
}
