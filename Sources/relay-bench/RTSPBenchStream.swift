import UringRelay

/// The rtsp scenario's synthetic H.264-like stream, as a pure function of the packet index so
/// that the publisher and every reader agree on each packet without sharing state.
///
/// Frames come at `framesPerSecond`; every `keyframeInterval`-th frame is an IDR (NAL type 5),
/// the others non-IDR slices (type 1). A keyframe is `keyframeWeight` times a delta frame, and
/// the sizes are chosen so a group of pictures (GOP) carries `bitsPerSecond` on average. A
/// frame whose NAL does not fit one packet goes as FU-A fragments (RFC 6184 §5.8) of equal
/// size, all at most `maxPacketBytes` with the 12-byte RTP header; the last packet of a frame
/// has the marker bit. Packet k's index says which frame and fragment it is (`place(of:)`).
/// The parameter sets go in the SDP's sprop-parameter-sets only, not in band, so the STAP-A a
/// reader gets before its first keyframe can only come from the relay.
struct RTSPBenchStream: Equatable {
    /// Where one packet sits in the stream.
    struct Place: Equatable {
        var frame: Int
        var fragment: Int
        var fragments: Int
        var keyframe: Bool
        /// NAL bytes this packet carries (for FU-A: the fragment, without the 2 FU bytes;
        /// for a single NAL packet: the whole NAL, header byte included).
        var nalBytes: Int
        var isFrameStart: Bool { fragment == 0 }
        var isKeyframeStart: Bool { keyframe && fragment == 0 }
        var isFrameEnd: Bool { fragment == fragments - 1 }
    }

    var bitsPerSecond: Int
    var framesPerSecond = 25
    var keyframeInterval = 25
    var keyframeWeight = 4
    var maxPacketBytes = 1200

    static let payloadType: UInt8 = 96
    static let clockRate = 90_000
    static let ssrc: UInt32 = 0x5254_5350
    /// A plausible baseline-profile SPS and PPS (NAL header byte first); the relay does not
    /// decode them, it only has to hand them to readers unchanged.
    static let sps: [UInt8] = [0x67, 0x42, 0xE0, 0x1F, 0xDA, 0x01, 0x40, 0x16, 0xE8, 0x06, 0xD0, 0xA1, 0x35]
    static let pps: [UInt8] = [0x68, 0xCE, 0x06, 0xE2]

    /// Payload bytes of an FU-A packet besides the fragment: FU indicator and FU header.
    static let fuBytes = 2

    var frameIntervalNs: Double { 1e9 / Double(framesPerSecond) }
    var timestampStep: UInt32 { UInt32(Self.clockRate / framesPerSecond) }
    /// NAL bytes (header included) of a delta frame and of a keyframe.
    var deltaFrameBytes: Int {
        let gopBytes = Double(bitsPerSecond) / 8 * Double(keyframeInterval) / Double(framesPerSecond)
        return max(RTSPBenchPayload.minimumNALBytes, Int(gopBytes / Double(keyframeInterval - 1 + keyframeWeight)))
    }
    var keyframeBytes: Int { deltaFrameBytes * keyframeWeight }
    /// Largest fragment an FU-A packet carries.
    var maxFragmentBytes: Int { maxPacketBytes - RTPHeader.fixedLength - Self.fuBytes }
    var packetsPerKeyframe: Int { packets(nalBytes: keyframeBytes) }
    var packetsPerDeltaFrame: Int { packets(nalBytes: deltaFrameBytes) }
    var packetsPerGOP: Int { packetsPerKeyframe + (keyframeInterval - 1) * packetsPerDeltaFrame }
    var packetsPerSecond: Double { Double(packetsPerGOP) * Double(framesPerSecond) / Double(keyframeInterval) }

    /// One packet if the NAL fits it whole, else FU-A fragments. The NAL header byte is not
    /// sent in FU-A (its bits go in the FU indicator and header), so the fragments share
    /// `nalBytes - 1` bytes.
    func packets(nalBytes: Int) -> Int {
        if nalBytes <= maxPacketBytes - RTPHeader.fixedLength { return 1 }
        return (nalBytes - 1 + maxFragmentBytes - 1) / maxFragmentBytes
    }

    func firstPacket(ofFrame f: Int) -> Int {
        let gop = f / keyframeInterval, inGOP = f % keyframeInterval
        return gop * packetsPerGOP + (inGOP == 0 ? 0 : packetsPerKeyframe + (inGOP - 1) * packetsPerDeltaFrame)
    }

    func place(of k: Int) -> Place {
        let gop = k / packetsPerGOP, p = k % packetsPerGOP
        let (frameInGOP, fragment, keyframe): (Int, Int, Bool) = p < packetsPerKeyframe
            ? (0, p, true)
            : (1 + (p - packetsPerKeyframe) / packetsPerDeltaFrame, (p - packetsPerKeyframe) % packetsPerDeltaFrame, false)
        let nal = keyframe ? keyframeBytes : deltaFrameBytes
        let count = keyframe ? packetsPerKeyframe : packetsPerDeltaFrame
        let bytes: Int
        if count == 1 {
            bytes = nal
        } else {
            // nal - 1 bytes in `count` fragments, the first (nal - 1) % count one byte longer.
            let body = nal - 1
            bytes = body / count + (fragment < body % count ? 1 : 0)
        }
        return Place(frame: gop * keyframeInterval + frameInGOP, fragment: fragment, fragments: count,
                     keyframe: keyframe, nalBytes: bytes)
    }

    /// The SDP the publisher announces: one H.264 track, control `trackID=0`.
    var sessionDescription: String {
        let parameters = H264Parameters(sps: Self.sps, pps: Self.pps)
        return [
            "v=0",
            "o=- 0 0 IN IP4 127.0.0.1",
            "s=relay-bench",
            "c=IN IP4 0.0.0.0",
            "t=0 0",
            "m=video 0 RTP/AVP \(Self.payloadType)",
            "a=rtpmap:\(Self.payloadType) H264/\(Self.clockRate)",
            "a=fmtp:\(Self.payloadType) packetization-mode=1;profile-level-id=\(parameters.profileLevelID!);sprop-parameter-sets=\(parameters.spropParameterSets!)",
            "a=control:trackID=0",
        ].joined(separator: "\r\n") + "\r\n"
    }
}
