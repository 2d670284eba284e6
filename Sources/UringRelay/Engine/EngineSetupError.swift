import Glibc

/// Why an engine could not start, in one line an operator can act on.
public struct EngineSetupError: Error, CustomStringConvertible, Sendable {
    public let cause: String
    public init(cause: String) { self.cause = cause }
    public var description: String { cause }

    /// Names the likely cause of an io_uring_setup failure (liburing returns -errno).
    public static func uringSetupFailure(errno e: Int32) -> EngineSetupError {
        switch e {
        case EPERM:
            let disabled = readSysctl("/proc/sys/kernel/io_uring_disabled")
            let why: String
            switch disabled {
            case "2": why = "kernel.io_uring_disabled=2 forbids io_uring for everyone"
            case "1": why = "kernel.io_uring_disabled=1 and this process is not in kernel.io_uring_group"
            default: why = "most likely a seccomp filter (container runtimes block io_uring by default)"
            }
            return .init(cause: "io_uring_setup: EPERM: \(why)")
        case ENOSYS:
            return .init(cause: "io_uring_setup: ENOSYS: this kernel was built without io_uring")
        case ENOMEM:
            return .init(cause: "io_uring_setup: ENOMEM: not enough locked memory for the ring (raise `ulimit -l` or shrink --buffers)")
        case EINVAL:
            return .init(cause: "io_uring_setup: EINVAL: the kernel rejected the ring parameters (kernel too old?)")
        default:
            return .init(cause: "io_uring_setup: \(errnoName(e)): \(String(cString: strerror(e)))")
        }
    }

    static func missingFeature(_ what: String) -> EngineSetupError {
        .init(cause: "io_uring lacks a feature uring-relay needs: \(what)")
    }

    static func readSysctl(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var buf = [CChar](repeating: 0, count: 32)
        guard fgets(&buf, 32, f) != nil else { return nil }
        let line = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return line.trimmingCharacters(in: " \n")
    }
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}
