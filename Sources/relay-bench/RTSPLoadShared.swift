import Synchronization

/// What the rtsp scenario's publisher, reader threads and coordinator share: the stream and
/// its start time (fixed), the measured window once every reader plays, and how far the
/// publisher got.
final class RTSPLoadShared: Sendable {
    let stream: RTSPBenchStream
    /// CLOCK_MONOTONIC ns of frame 0.
    let t0Ns: UInt64
    /// Packets [windowStart, windowEnd) were due inside the measured window; both Int.max
    /// until the readers are set up, so nothing counts before.
    let windowStart = Atomic<Int>(Int.max)
    let windowEnd = Atomic<Int>(Int.max)
    /// The publisher sends frames below this one, then stops.
    let endFrame: Atomic<Int>
    /// Packets sent so far (final once `publisherDone`).
    let sent = Atomic<Int>(0)
    let publisherDone = Atomic<Bool>(false)
    /// When the publisher finished: readers give up `drainNs` after it.
    let publisherEndNs = Atomic<UInt64>(0)

    init(stream: RTSPBenchStream, t0Ns: UInt64, endFrame: Int) {
        self.stream = stream
        self.t0Ns = t0Ns
        self.endFrame = Atomic(endFrame)
    }

    /// Intended send time of frame `f` (all its packets go at once, as a camera's would).
    @inline(__always)
    func dueNs(frame f: Int) -> UInt64 { t0Ns + UInt64(Double(f) * stream.frameIntervalNs) }
}
