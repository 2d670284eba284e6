import UringRelay

/// A chart file or its directory could not be written.
struct ChartWriteError: Error, CustomStringConvertible {
    var path: String
    var errno: Int32
    var description: String { "cannot write \(path): \(errnoName(errno))" }
}
