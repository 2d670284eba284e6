/// A spool that cannot be used (wrong version, not a directory, unreadable): one line.
public struct SpoolError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
