import Glibc

public enum FileDescriptorLimit {
    /// Raises the soft RLIMIT_NOFILE to the hard limit (as haproxy and nginx do): each relayed
    /// connection holds two fds. Returns the soft limit now in force.
    @discardableResult
    public static func raiseToHardLimit() -> Int {
        var lim = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0 else { return 1024 }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim)
        }
        return Int(clamping: lim.rlim_cur)
    }
}
