import Glibc
import UringRelay

/// The rtsp scenario's RTP packets (RTSPBenchStream says which packet k is). The relay
/// rewrites SSRC, sequence numbers and timestamps, so a packet is identified by its payload:
///
///     single NAL:  [NAL header] [bench header] [filler]
///     FU-A:        [FU indicator] [FU header] [bench header] [filler]
///     bench header: packet index k (u64 LE), intended send time of its frame (u64 LE,
///                   CLOCK_MONOTONIC ns)
///     filler:       `fillerPattern` from an offset derived from k, so every byte is checked
///                   with one memcmp
enum RTSPBenchPayload {
    static let benchHeaderBytes = 16
    /// A single NAL packet's NAL header and bench header.
    static let minimumNALBytes = 1 + benchHeaderBytes
    static let idrHeader: UInt8 = 0x65      // NRI 3, type 5
    static let sliceHeader: UInt8 = 0x41    // NRI 2, type 1
    static let fuAType: UInt8 = 28
    static let stapAType: UInt8 = 24

    /// Pseudo-random bytes (a 32-bit LCG); a packet's filler starts at offset
    /// (k × 61) mod `patternPeriod`, so neighbouring packets differ.
    static let patternPeriod = 4096
    static let fillerPattern: [UInt8] = {
        var x: UInt32 = 0x2545_F491
        return (0..<(patternPeriod + 65536)).map { _ in
            x = x &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: x >> 24)
        }
    }()

    static func fillerOffset(_ k: Int) -> Int { (k &* 61) % patternPeriod }

    /// What a received RTP packet turned out to be.
    enum Kind: Equatable {
        /// Bench packet `index`, every byte as written; `header` as the relay sent it.
        case media(index: Int, header: RTPHeader)
        /// A STAP-A holding exactly the stream's SPS and PPS (what the relay sends a new reader).
        case parameterSets
        /// Anything else: the reason.
        case invalid(String)
    }

    /// Writes packet `k` (RTP header included) into `p`, which has room for
    /// `stream.maxPacketBytes`; returns its length.
    static func write(_ k: Int, of stream: RTSPBenchStream, dueNs: UInt64, into p: UnsafeMutableRawPointer) -> Int {
        let place = stream.place(of: k)
        p.storeBytes(of: 0x80, toByteOffset: 0, as: UInt8.self)
        p.storeBytes(of: (place.isFrameEnd ? 0x80 : 0) | RTSPBenchStream.payloadType, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: UInt16(truncatingIfNeeded: k).bigEndian, toByteOffset: 2, as: UInt16.self)
        p.storeBytes(of: (UInt32(truncatingIfNeeded: place.frame) &* stream.timestampStep).bigEndian, toByteOffset: 4, as: UInt32.self)
        p.storeBytes(of: RTSPBenchStream.ssrc.bigEndian, toByteOffset: 8, as: UInt32.self)
        let nalHeader = place.keyframe ? idrHeader : sliceHeader
        var o = RTPHeader.fixedLength
        let data: Int  // bench header + filler
        if place.fragments == 1 {
            p.storeBytes(of: nalHeader, toByteOffset: o, as: UInt8.self)
            o += 1
            data = place.nalBytes - 1
        } else {
            p.storeBytes(of: (nalHeader & 0xE0) | fuAType, toByteOffset: o, as: UInt8.self)
            let se: UInt8 = (place.isFrameStart ? 0x80 : 0) | (place.isFrameEnd ? 0x40 : 0)
            p.storeBytes(of: se | (nalHeader & 0x1F), toByteOffset: o + 1, as: UInt8.self)
            o += 2
            data = place.nalBytes
        }
        p.storeBytes(of: UInt64(k).littleEndian, toByteOffset: o, as: UInt64.self)
        p.storeBytes(of: dueNs.littleEndian, toByteOffset: o + 8, as: UInt64.self)
        fillerPattern.withUnsafeBytes { f in
            (p + o + benchHeaderBytes).copyMemory(from: f.baseAddress! + fillerOffset(k), byteCount: data - benchHeaderBytes)
        }
        return o + data
    }

    /// Classifies a received RTP packet; `dueNs` gives the intended send time of a frame.
    static func check(_ packet: UnsafeRawBufferPointer, of stream: RTSPBenchStream, dueNs: (Int) -> UInt64) -> Kind {
        let header: RTPHeader
        switch RTPHeader.parse(packet) {
        case .success(let h): header = h
        case .failure(let e): return .invalid("RTP header: \(e)")
        }
        guard header.payloadType == RTSPBenchStream.payloadType else { return .invalid("payload type \(header.payloadType)") }
        let payload = UnsafeRawBufferPointer(rebasing: packet[header.headerLength..<(header.headerLength + header.payloadLength)])
        guard let first = payload.first else { return .invalid("empty payload") }
        let type = first & 0x1F
        if type == stapAType { return isParameterSets(payload) ? .parameterSets : .invalid("STAP-A that is not the stream's SPS and PPS") }
        let single = type == 1 || type == 5
        guard single || type == fuAType else { return .invalid("NAL type \(type)") }
        let o = single ? 1 : 2
        guard payload.count >= o + benchHeaderBytes else { return .invalid("payload of \(payload.count) bytes") }
        let raw = UInt64(littleEndian: payload.loadUnaligned(fromByteOffset: o, as: UInt64.self))
        guard raw < UInt64(Int.max / 2) else { return .invalid("packet index \(raw)") }
        let k = Int(raw)
        let place = stream.place(of: k)
        let nalHeader = place.keyframe ? idrHeader : sliceHeader
        if place.fragments == 1 {
            guard single, first == nalHeader, payload.count == place.nalBytes else { return .invalid("packet \(k): not its single NAL") }
        } else {
            let se: UInt8 = (place.isFrameStart ? 0x80 : 0) | (place.isFrameEnd ? 0x40 : 0)
            guard !single, first == (nalHeader & 0xE0) | fuAType, payload[1] == se | (nalHeader & 0x1F),
                  payload.count == 2 + place.nalBytes else { return .invalid("packet \(k): not its FU-A fragment") }
        }
        guard header.marker == place.isFrameEnd else { return .invalid("packet \(k): marker bit \(header.marker)") }
        guard UInt64(littleEndian: payload.loadUnaligned(fromByteOffset: o + 8, as: UInt64.self)) == dueNs(place.frame) else {
            return .invalid("packet \(k): send time differs")
        }
        let same = fillerPattern.withUnsafeBytes { f in
            memcmp(payload.baseAddress! + o + benchHeaderBytes, f.baseAddress! + fillerOffset(k), payload.count - o - benchHeaderBytes) == 0
        }
        return same ? .media(index: k, header: header) : .invalid("packet \(k): payload differs")
    }

    /// A STAP-A (RFC 6184 §5.7.1) of exactly the stream's SPS and PPS, in either order.
    static func isParameterSets(_ payload: UnsafeRawBufferPointer) -> Bool {
        var units: [[UInt8]] = []
        var o = 1
        while o + 2 <= payload.count && units.count < 4 {
            let size = Int(payload[o]) << 8 | Int(payload[o + 1])
            o += 2
            guard size > 0, o + size <= payload.count else { return false }
            units.append(Array(payload[o..<(o + size)]))
            o += size
        }
        return o == payload.count && units.count == 2 && Set(units) == Set([RTSPBenchStream.sps, RTSPBenchStream.pps])
    }
}
