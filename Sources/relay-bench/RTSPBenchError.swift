/// Why an RTSP exchange of the rtsp scenario (publisher or reader set-up) failed, in one line.
struct RTSPBenchError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
