/// Why a relay could not start: one line for the operator (the CLI exits 1 with it).
public struct RelayStartError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
