/// Reception statistics of one RTP source (one SSRC), as RFC 3550 Appendix A computes them:
/// sequence tracking with wrap-around (A.1), expected and lost packets (A.3), reordering,
/// and interarrival jitter (A.8). Pure: the caller supplies arrival times.
///
/// A.1's probation (two in-order packets before a source counts) is left out: a relay counts
/// from the first packet. Its other rules are kept: a jump forward of less than `maxDropout`
/// is a gap (loss); a packet less than `maxMisorder` behind the highest is late (reordered, or a
/// duplicate if equal); anything else is a jump, and a second packet continuing that jump
/// restarts the sequence (the source restarted), while a lone one is ignored.
public struct RTPStreamStats: Equatable, Sendable {
    public static let maxDropout: UInt16 = 3000
    public static let maxMisorder: UInt16 = 100
    static let sequenceModulus = 1 << 16

    /// Timestamp clock rate in Hz (90000 for video, the audio sampling rate for audio).
    public let clockRate: Int

    public private(set) var ssrc: UInt32
    /// Every valid packet seen, ignored jumps included.
    public private(set) var packets: Int = 0
    /// Datagram bytes of those packets (headers included).
    public private(set) var bytes: Int = 0
    /// Packets counted towards loss (A.1's `received`: in-order, late and duplicates).
    public private(set) var received: Int = 0
    /// Late packets: behind the highest sequence number seen, by less than `maxMisorder`.
    public private(set) var reordered: Int = 0
    public private(set) var duplicates: Int = 0
    /// Packets ignored as a lone jump (A.1's `bad_seq`).
    public private(set) var jumps: Int = 0
    /// Times the sequence was restarted after a confirmed jump.
    public private(set) var restarts: Int = 0

    private var baseSequence: UInt32 = 0
    private var maxSequence: UInt16 = 0
    private var cycles: UInt32 = 0
    private var badSequence: Int = sequenceModulus + 1
    /// Received/expected counts when the previous stats were taken, for fraction lost.
    private var expectedPrior: Int = 0
    private var receivedPrior: Int = 0
    private var started = false

    /// Jitter in timestamp units (A.8: J += (|D| − J) / 16), kept in floating point.
    public private(set) var jitter: Double = 0
    private var lastArrivalNs: Int64 = 0
    private var lastTimestamp: UInt32 = 0
    private var hasTransit = false

    public init(ssrc: UInt32, clockRate: Int) {
        precondition(clockRate > 0)
        self.ssrc = ssrc
        self.clockRate = clockRate
    }

    /// The highest sequence number seen, extended with the wrap count (A.1 `cycles + max_seq`).
    public var extendedHighestSequence: UInt32 { cycles &+ UInt32(maxSequence) }

    /// A.3: packets expected from the first to the highest sequence number.
    public var expected: Int { started ? Int(extendedHighestSequence) - Int(baseSequence) + 1 : 0 }

    /// A.3: expected − received. Negative when duplicates outnumber losses.
    public var lost: Int { expected - received }

    /// The jitter as an RTCP report carries it (A.8 truncates to an integer).
    public var jitterTimestampUnits: UInt32 { UInt32(jitter) }

    /// Jitter in seconds.
    public var jitterSeconds: Double { jitter / Double(clockRate) }

    /// Records one valid packet: its header fields, datagram size and arrival time (any
    /// monotonic clock in nanoseconds). Returns false if the packet was ignored as a jump.
    @discardableResult
    public mutating func record(sequence seq: UInt16, timestamp: UInt32, bytes size: Int, arrivalNs: Int64) -> Bool {
        packets += 1
        bytes += size
        if !started {
            restart(at: seq)
            started = true
        } else {
            let delta = seq &- maxSequence
            if delta == 0 {
                duplicates += 1
            } else if delta < Self.maxDropout {
                if seq < maxSequence { cycles &+= UInt32(Self.sequenceModulus) }
                maxSequence = seq
            } else if delta <= UInt16(Self.sequenceModulus - Int(Self.maxMisorder)) {
                if Int(seq) == badSequence {
                    // Two packets continuing the jump: the source restarted its sequence.
                    restart(at: seq)
                    restarts += 1
                    hasTransit = false
                } else {
                    badSequence = (Int(seq) + 1) & (Self.sequenceModulus - 1)
                    jumps += 1
                    return false
                }
            } else {
                reordered += 1
            }
        }
        received += 1
        updateJitter(timestamp: timestamp, arrivalNs: arrivalNs)
        return true
    }

    private mutating func restart(at seq: UInt16) {
        baseSequence = UInt32(seq)
        maxSequence = seq
        cycles = 0
        badSequence = Self.sequenceModulus + 1
        received = 0
        expectedPrior = 0
        receivedPrior = 0
    }

    /// A.8, with D(i-1, i) = (Rj − Ri) − (Sj − Si): arrival difference converted to timestamp
    /// units, minus the timestamp difference taken modulo 2^32 (so a wrap is a small step).
    private mutating func updateJitter(timestamp: UInt32, arrivalNs: Int64) {
        defer {
            lastArrivalNs = arrivalNs
            lastTimestamp = timestamp
            hasTransit = true
        }
        guard hasTransit else { return }
        let arrivalUnits = Double(arrivalNs - lastArrivalNs) * Double(clockRate) / 1e9
        let timestampUnits = Double(Int32(bitPattern: timestamp &- lastTimestamp))
        let d = abs(arrivalUnits - timestampUnits)
        jitter += (d - jitter) / 16
    }

    /// A.3's fraction lost over the interval since the previous call, in 1/256 (as an RR
    /// block carries it); resets the interval.
    public mutating func takeFractionLost() -> UInt8 {
        let expectedInterval = expected - expectedPrior
        let receivedInterval = received - receivedPrior
        expectedPrior = expected
        receivedPrior = received
        let lostInterval = expectedInterval - receivedInterval
        guard expectedInterval > 0, lostInterval > 0 else { return 0 }
        return UInt8(min(255, (lostInterval << 8) / expectedInterval))
    }
}
