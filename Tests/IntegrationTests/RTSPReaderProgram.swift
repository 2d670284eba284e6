/// What an `RTSPReader` runs and how it reads the reader's output: which stdout lines are
/// decoded frames and their timestamps, and which complaints are decode errors. One per
/// reader implementation (`FFmpegRTSPReader`, `GStreamerRTSPReader`); the waiting, timing
/// and bookkeeping around them is shared in `RTSPReader`.
struct RTSPReaderProgram: Sendable {
    /// For messages: "ffmpeg", "gstreamer".
    var name: String
    var executable: String
    var arguments: [String]
    /// The child exits at EOF on stdin (so it dies with the test process).
    var keepStdinOpen = false
    /// Whether a stdout line reports one decoded frame. Cheap: it runs on every wake-up of
    /// a wait.
    var isFrameLine: @Sendable (String) -> Bool
    /// The presentation timestamp, in seconds, of each frame line in `stdout` (nil: a frame
    /// without one), in order; given all lines, for formats with a header (a time base).
    var timestamps: @Sendable (_ stdout: [String]) -> [Double?]
    /// Decode errors, and every other complaint, in what the reader printed.
    var complaints: @Sendable (_ stdout: [String], _ stderr: [String]) -> (decodeErrors: [String], messages: [String])
}
