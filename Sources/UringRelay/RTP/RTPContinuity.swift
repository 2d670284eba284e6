/// Rewrites the RTP (and RTCP SR) headers of one track so readers see one continuous stream
/// while the source behind it reconnects: one SSRC, sequence numbers that go on by one, and
/// timestamps that go on by the time the source was away. A camera that comes back starts a
/// new SSRC with sequence and timestamp at 0 or at random (RFC 3550 §5.1); passed through
/// as is, players see a jump backwards and stall or drop the stream.
///
/// Each source session gets fixed offsets (output = input + offset, wrapping), chosen at its
/// first packet. Keeping them fixed within a session means reordering, gaps and duplicates
/// pass through exactly as the source made them, so readers' loss and jitter stats stay true.
///
/// The very first packet ever is passed with offsets 0: output sequence and timestamp equal
/// the input's, only the SSRC is replaced. Every later session starts at one past the
/// highest sequence number output so far, and at the highest timestamp output so far plus
/// the time the source was away in clock ticks (at least 1 tick, so time never stands still
/// or goes back).
///
/// In place, no allocation; one value per track, owned by the worker that relays it.
public struct RTPContinuity: Sendable {
    public let outputSSRC: UInt32

    /// The offsets of the current source session (meaningful once `inputSSRC` is set).
    public private(set) var sequenceOffset: UInt16 = 0
    public private(set) var timestampOffset: UInt32 = 0
    /// The highest sequence number (16-bit serial order) and the highest timestamp (32-bit
    /// serial order) output so far. They are tracked apart because timestamps do not follow
    /// sequence order when the encoder reorders frames (B-frames); the next session must
    /// start after the highest of both.
    public private(set) var lastOutputSequence: UInt16 = 0
    public private(set) var lastOutputTimestamp: UInt32 = 0
    /// Whether any packet has been output yet.
    public private(set) var hasOutput = false
    /// The SSRC of the current source session; nil between `sourceRestarted` and its first packet.
    public private(set) var inputSSRC: UInt32? = nil

    /// Clock ticks the next session's first timestamp lies after `lastOutputTimestamp`.
    private var pendingAdvanceTicks: UInt32 = 1

    /// The largest timestamp step across a restart: beyond 2^31 ticks a reader's serial
    /// comparison (RFC 3550 §A.1 style) would take the jump as going backwards.
    public static let maxAdvanceTicks = Int(Int32.max)

    /// Sequence numbers left free between sessions (see `startSession`): 1 for a track whose
    /// relay sends readers a packet of its own at a restart (H.264's SPS/PPS), else 0.
    public let sequenceGapAtRestart: UInt16

    public init(outputSSRC: UInt32, sequenceGapAtRestart: UInt16 = 1) {
        self.outputSSRC = outputSSRC
        self.sequenceGapAtRestart = sequenceGapAtRestart
    }

    /// A new source session begins (the relay reconnected to the camera, or a new publisher
    /// took the path). `elapsedSinceLastPacketMs` is the wall time since the last packet this
    /// track output; `clockRate` the track's RTP clock in Hz (90000 for video). The offsets
    /// are chosen at the next packet. Before any output this changes nothing: the first
    /// packet ever still passes with offsets 0.
    public mutating func sourceRestarted(elapsedSinceLastPacketMs: Int, clockRate: Int) {
        inputSSRC = nil
        let elapsedMs = max(0, elapsedSinceLastPacketMs)
        let rate = max(0, clockRate)
        // elapsedMs × rate can overflow Int for absurd inputs: multiply with overflow report
        // and saturate, then clamp to what readers can still see as forward.
        let (product, overflow) = elapsedMs.multipliedReportingOverflow(by: rate)
        let ticks = overflow ? Self.maxAdvanceTicks : product / 1000
        pendingAdvanceTicks = UInt32(min(max(1, ticks), Self.maxAdvanceTicks))
    }

    /// Validates `packet` with `RTPHeader.parse` (false: drop it) and rewrites it in place:
    /// SSRC → `outputSSRC`, sequence and timestamp shifted by this session's offsets.
    ///
    /// A packet whose SSRC differs from the current session's, without a `sourceRestarted`
    /// call, starts a new session too (some cameras change SSRC when their encoder restarts
    /// on the same connection); the time away is unknown then, so the timestamp goes on by 1.
    public mutating func rewrite(_ packet: UnsafeMutableRawBufferPointer) -> Bool {
        guard case .success(let header) = RTPHeader.parse(UnsafeRawBufferPointer(packet)) else { return false }
        if inputSSRC != header.ssrc {
            if inputSSRC != nil { pendingAdvanceTicks = 1 }
            startSession(firstSequence: header.sequenceNumber, firstTimestamp: header.timestamp)
            inputSSRC = header.ssrc
        }
        let sequence = header.sequenceNumber &+ sequenceOffset
        let timestamp = header.timestamp &+ timestampOffset
        Self.store16(sequence, packet, 2)
        Self.store32(timestamp, packet, 4)
        Self.store32(outputSSRC, packet, 8)
        if !hasOutput || Int16(bitPattern: sequence &- lastOutputSequence) > 0 { lastOutputSequence = sequence }
        if !hasOutput || Int32(bitPattern: timestamp &- lastOutputTimestamp) > 0 { lastOutputTimestamp = timestamp }
        hasOutput = true
        return true
    }

    private mutating func startSession(firstSequence: UInt16, firstTimestamp: UInt32) {
        guard hasOutput else {
            sequenceOffset = 0
            timestampOffset = 0
            return
        }
        // For H.264 one sequence number is left free between sessions: the relay numbers the
        // SPS/PPS packet it sends readers before the new session's first keyframe with it,
        // so their sequence stays gapless. Other tracks continue by one.
        sequenceOffset = lastOutputSequence &+ 1 &+ sequenceGapAtRestart &- firstSequence
        timestampOffset = lastOutputTimestamp &+ pendingAdvanceTicks &- firstTimestamp
    }

    /// Rewrites the sender reports of the current source session in a compound RTCP packet,
    /// in place: the sender SSRC → `outputSSRC` and the SR's RTP timestamp shifted by the
    /// session's timestamp offset, so readers map RTP time to NTP time (lip sync) as before.
    /// The SSRC of an SDES packet's first chunk is replaced too when it is the source's, so
    /// the CNAME stays bound to the stream. Packet and octet counts are left as the source
    /// counts them (they restart with the source; readers only use them for statistics).
    ///
    /// Returns whether an SR was rewritten; false (forward nothing) for a malformed compound,
    /// before the session's first RTP packet (its offset is not known yet), or when no SR is
    /// from the current source (a stale one from the previous session, or a lone RR/SDES).
    /// BYE packets are not touched: the relay should not forward a source's BYE, since the
    /// output stream goes on.
    @discardableResult
    public func rewriteRTCPSenderReport(_ packet: UnsafeMutableRawBufferPointer) -> Bool {
        guard let source = inputSSRC,
              case .success(let packets) = RTCPCompound.parse(UnsafeRawBufferPointer(packet)) else { return false }
        var rewrote = false
        for p in packets where p.ssrc == source {
            switch p.type {
            case .senderReport:
                guard let info = p.senderInfo else { continue }
                Self.store32(outputSSRC, packet, p.offset + 4)
                Self.store32(info.rtpTimestamp &+ timestampOffset, packet, p.offset + 16)
                rewrote = true
            case .sourceDescription:
                Self.store32(outputSSRC, packet, p.offset + 4)
            default:
                continue
            }
        }
        return rewrote
    }

    @inline(__always)
    private static func store16(_ v: UInt16, _ b: UnsafeMutableRawBufferPointer, _ i: Int) {
        b[i] = UInt8(truncatingIfNeeded: v >> 8)
        b[i + 1] = UInt8(truncatingIfNeeded: v)
    }

    @inline(__always)
    private static func store32(_ v: UInt32, _ b: UnsafeMutableRawBufferPointer, _ i: Int) {
        b[i] = UInt8(truncatingIfNeeded: v >> 24)
        b[i + 1] = UInt8(truncatingIfNeeded: v >> 16)
        b[i + 2] = UInt8(truncatingIfNeeded: v >> 8)
        b[i + 3] = UInt8(truncatingIfNeeded: v)
    }
}
