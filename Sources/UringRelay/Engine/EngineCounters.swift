/// What an engine asked of the kernel, counted as it goes (plain integer adds on the worker
/// thread, no atomics: the owner copies them into its published stats). Both engines fill the
/// same two fields, so a report can set "syscalls per packet" side by side.
public struct EngineCounters: Sendable, Equatable {
    /// Syscalls made to do I/O. io_uring: calls into liburing's submit and submit-and-wait
    /// functions, each of which makes at most one io_uring_enter (liburing skips the syscall
    /// when there is nothing to submit or wait for), so this is an upper bound on
    /// io_uring_enter calls. epoll: every syscall the engine makes — epoll_wait, epoll_ctl,
    /// recv/recvmmsg, sendmsg/sendmmsg, accept4, connect, shutdown, close, reads of its eventfd.
    public var syscalls = 0
    /// Operations handed to the kernel. io_uring: SQEs prepared (the relay's operations plus
    /// the engine's own wake reads, cancels and re-arms). epoll: operations queued through the
    /// seam (each send, datagram send, receive arming, accept, connect, shutdown, close, timeout).
    public var operations = 0

    public init() {}
}
