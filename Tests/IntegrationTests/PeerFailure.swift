/// A peer program that would not start, did not become ready, or did not do what a test
/// waited for in time. The description carries what the peer said, so a failing test
/// shows why without rerunning it.
struct PeerFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}
