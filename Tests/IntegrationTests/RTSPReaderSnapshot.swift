/// What an `RTSPReader` had decoded when it was asked (`RTSPReader.snapshot()`).
struct RTSPReaderSnapshot: Sendable, CustomStringConvertible {
    var reader: String
    var url: String
    /// Frames decoded.
    var frames: Int
    /// The decoder's complaints about the stream (concealed slices, missing PPS, no frame):
    /// what a relay that lost or reordered packets, or cut into a frame, leads to.
    var decodeErrors: [String]
    /// Everything else the reader complained about (RTSP errors, 401, packet loss reports).
    var messages: [String]
    /// Presentation timestamps of the first and last frame, in seconds.
    var firstPts: Double?
    var lastPts: Double?
    /// Frames that came without a timestamp.
    var framesWithoutPts: Int
    /// No frame had a timestamp smaller than the one before it (equal is allowed, see RTSPReader).
    var ptsMonotonic: Bool
    /// The first place it was not, "#index: previous -> this" (nil if none).
    var firstPtsRegression: String?
    /// From the reader's start to its first decoded frame, in seconds.
    var timeToFirstFrame: Double?
    /// Seconds from the last decoded frame to this snapshot.
    var lastFrameAge: Double?
    var running: Bool
    /// How it ended, once it did: the exit status, or 128 + the signal.
    var exitStatus: Int32?

    /// Still running and decoded a frame within the last `seconds`.
    func isReceiving(within seconds: Double = 1) -> Bool {
        running && (lastFrameAge.map { $0 <= seconds } ?? false)
    }

    /// A clean decode: `minimum` frames or more, no decode error, timestamps rising.
    func isClean(minimum: Int) -> Bool {
        frames >= minimum && decodeErrors.isEmpty && ptsMonotonic && framesWithoutPts == 0
    }

    var description: String {
        var s = "\(reader) \(url): \(frames) frames, \(decodeErrors.count) decode errors"
        if let firstPts, let lastPts { s += ", pts \(firstPts)...\(lastPts)" }
        if !ptsMonotonic { s += ", pts not monotonic (\(firstPtsRegression ?? "?"))" }
        if framesWithoutPts > 0 { s += ", \(framesWithoutPts) without pts" }
        if let timeToFirstFrame { s += ", first frame after \(timeToFirstFrame) s" }
        if let lastFrameAge { s += ", last \(lastFrameAge) s ago" }
        s += running ? ", running" : ", exited \(exitStatus.map(String.init) ?? "?")"
        if !decodeErrors.isEmpty { s += "; decode errors: \(decodeErrors.prefix(5))" }
        if !messages.isEmpty { s += "; messages: \(messages.prefix(8))" }
        return s
    }
}
