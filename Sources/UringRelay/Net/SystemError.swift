import Glibc
// TEMPORARY (replaced by branch net)
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let errno: Int32
    public init(operation: String, errno: Int32) { self.operation = operation; self.errno = errno }
    public var description: String { "\(operation): \(String(cString: strerror(errno)))" }
}
public func errnoName(_ e: Int32) -> String { "errno \(e)" }
