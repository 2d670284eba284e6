#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which operation (with its target, e.g. "bind 127.0.0.1:9000")
/// and the errno it returned. Description: "bind 127.0.0.1:9000: Address already in use (EADDRINUSE)".
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let errno: Int32

    public init(operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    /// Captures the calling thread's current errno. Call it right after the failing syscall.
    /// errno is read before `operation` is built (formatting an address may itself change errno).
    public static func lastError(_ operation: @autoclosure () -> String) -> SystemError {
        let e = Glibc.errno
        return SystemError(operation: operation(), errno: e)
    }

    public var description: String {
        "\(operation): \(String(cString: strerror(errno))) (\(errnoName(errno)))"
    }
}

/// The symbolic name of common errno values ("EADDRINUSE"); "errno N" for anything else.
public func errnoName(_ e: Int32) -> String {
    switch e {
    case EPERM: return "EPERM"
    case ENOENT: return "ENOENT"
    case EINTR: return "EINTR"
    case EAGAIN: return "EAGAIN"  // == EWOULDBLOCK on Linux
    case ENOMEM: return "ENOMEM"
    case EACCES: return "EACCES"
    case EINVAL: return "EINVAL"
    case EMFILE: return "EMFILE"
    case ENFILE: return "ENFILE"
    case ENOSYS: return "ENOSYS"
    case EPIPE: return "EPIPE"
    case ECONNREFUSED: return "ECONNREFUSED"
    case ECONNRESET: return "ECONNRESET"
    case ECONNABORTED: return "ECONNABORTED"
    case ETIMEDOUT: return "ETIMEDOUT"
    case EADDRINUSE: return "EADDRINUSE"
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL"
    case ENETUNREACH: return "ENETUNREACH"
    case EHOSTUNREACH: return "EHOSTUNREACH"
    case ENOBUFS: return "ENOBUFS"
    case ECANCELED: return "ECANCELED"
    case ENOTCONN: return "ENOTCONN"
    case EALREADY: return "EALREADY"
    case EINPROGRESS: return "EINPROGRESS"
    case EBADF: return "EBADF"
    case ENOSPC: return "ENOSPC"
    case EDQUOT: return "EDQUOT"
    case EEXIST: return "EEXIST"
    case EIO: return "EIO"
    case ENOTDIR: return "ENOTDIR"
    case ENOTSOCK: return "ENOTSOCK"
    case ETIME: return "ETIME"
    case EOPNOTSUPP: return "EOPNOTSUPP"  // == ENOTSUP on Linux
    default: return "errno \(e)"
    }
}
