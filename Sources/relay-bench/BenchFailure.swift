/// A scenario could not run at all (no engine started, the peer could not listen, ...).
struct BenchFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
