/// Walks a compound RTCP datagram (RFC 3550 §6.1): packets back to back, each
/// `V=2 | P | count(5) | PT(8) | length(16, in 32-bit words minus one)`.
///
/// Checks, per A.2: version 2 on every packet; every length inside the datagram and the
/// packets exactly filling it; padding only on the last packet, and within it; SR and RR
/// long enough for their sender info and report blocks, BYE for its sources, APP for its
/// name. `requireReportFirst` adds A.2's "the first packet is an SR or RR" (strict; some
/// senders emit a lone SDES or BYE, so the relay does not ask for it).
public enum RTCPCompound {
    public static let maxPackets = 64

    public static func parse(_ bytes: UnsafeRawBufferPointer, requireReportFirst: Bool = false)
        -> Result<[RTCPPacket], RTCPError>
    {
        let n = bytes.count
        guard n > 0 else { return .failure(.empty) }
        var packets: [RTCPPacket] = []
        var offset = 0
        while offset < n {
            guard n - offset >= 4 else { return .failure(.truncatedHeader(offset: offset)) }
            let b0 = bytes[offset]
            guard b0 >> 6 == 2 else { return .failure(.badVersion(offset: offset, version: b0 >> 6)) }
            let type = bytes[offset + 1]
            let count = Int(b0 & 0x1F)
            let length = (Int(be16(bytes, offset + 2)) + 1) * 4
            guard length <= n - offset else {
                return .failure(.lengthBeyondEnd(offset: offset, length: length, available: n - offset))
            }
            var bodyEnd = offset + length
            if b0 & 0x20 != 0 {
                // Only the last packet may be padded; the count byte is the packet's last.
                let pad = Int(bytes[offset + length - 1])
                guard offset + length == n, pad >= 1, pad <= length - 4 else { return .failure(.badPadding(offset: offset)) }
                bodyEnd -= pad
            }
            let bodyLength = bodyEnd - offset
            var p = RTCPPacket(packetType: type, count: count, offset: offset, length: length, ssrc: nil,
                               senderInfo: nil, reportBlocks: [])
            func need(_ needed: Int) -> RTCPError? {
                bodyLength < needed ? .bodyTooShort(offset: offset, type: type, length: bodyLength, needed: needed) : nil
            }
            switch RTCPPacketType(rawValue: type) {
            case .senderReport, .receiverReport:
                let infoLength = type == RTCPPacketType.senderReport.rawValue ? 20 : 0
                if let e = need(8 + infoLength + 24 * count) { return .failure(e) }
                p.ssrc = be32(bytes, offset + 4)
                if infoLength > 0 {
                    p.senderInfo = RTCPSenderInfo(
                        ntpTimestamp: UInt64(be32(bytes, offset + 8)) << 32 | UInt64(be32(bytes, offset + 12)),
                        rtpTimestamp: be32(bytes, offset + 16), packetCount: be32(bytes, offset + 20),
                        octetCount: be32(bytes, offset + 24))
                }
                var b = offset + 8 + infoLength
                for _ in 0..<count {
                    let lostField = be32(bytes, b + 4)
                    // 24-bit two's complement.
                    let cumulative = Int32(bitPattern: (lostField & 0xFF_FFFF) << 8) >> 8
                    p.reportBlocks.append(RTCPReportBlock(
                        ssrc: be32(bytes, b), fractionLost: UInt8(lostField >> 24), cumulativeLost: cumulative,
                        extendedHighestSequence: be32(bytes, b + 8), jitter: be32(bytes, b + 12),
                        lastSenderReport: be32(bytes, b + 16), delaySinceLastSenderReport: be32(bytes, b + 20)))
                    b += 24
                }
            case .sourceDescription:
                if count > 0, let e = need(8) { return .failure(e) }
                if count > 0 { p.ssrc = be32(bytes, offset + 4) }
            case .goodbye:
                if let e = need(4 + 4 * count) { return .failure(e) }
                if count > 0 { p.ssrc = be32(bytes, offset + 4) }
            case .application:
                if let e = need(12) { return .failure(e) }
                p.ssrc = be32(bytes, offset + 4)
            case nil:
                if bodyLength >= 8 { p.ssrc = be32(bytes, offset + 4) }
            }
            if packets.isEmpty && requireReportFirst
                && type != RTCPPacketType.senderReport.rawValue && type != RTCPPacketType.receiverReport.rawValue {
                return .failure(.firstNotReport(type: type))
            }
            guard packets.count < maxPackets else {
                return .failure(.tooManyPackets(maxPackets))
            }
            packets.append(p)
            offset += length
        }
        return .success(packets)
    }

    public static func parse(_ bytes: [UInt8], requireReportFirst: Bool = false) -> Result<[RTCPPacket], RTCPError> {
        bytes.withUnsafeBytes { parse($0, requireReportFirst: requireReportFirst) }
    }
}
