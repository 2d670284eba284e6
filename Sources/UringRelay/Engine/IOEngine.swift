import Glibc

/// Which I/O mechanism a worker uses. Chosen at run time so one binary can bench both.
public enum EngineKind: String, Sendable, CaseIterable {
    case uring
    case epoll
}

/// The seam between relay code and the I/O mechanism.
///
/// Relay code is written once against these completion-style operations. Each call only
/// queues the operation; it is issued at the next `wait` (io_uring: one io_uring_enter for
/// the whole batch; epoll: the syscall when the fd is ready) and finishes later as a
/// `Completion` carrying the caller's tag. Operations never complete inside the call.
///
/// Rules the relay may rely on, identical in both engines:
/// - A multishot operation (accept, receive) produces completions with `hasMore` until its
///   last one; after that it must be re-armed if still wanted.
/// - Receive fills a buffer from the engine's pool (`Completion.bufferID`); the relay owns
///   that buffer until it calls `releaseBuffer`. When the pool runs dry the engine parks the
///   receive and resumes it when buffers come back (backpressure, not an error).
/// - `cancelReceive` ends an armed receive: its last completion arrives (ECANCELED, or the
///   data/EOF that beat the cancel). `cancelAll(fd:)` does the same for every operation on fd.
/// - Memory handed to `send` (the msghdr, its iovecs and the bytes) must stay valid and
///   unchanged until that send completes. One send per socket at a time.
public protocol IOEngine: AnyObject {
    var kind: EngineKind { get }
    var buffers: BufferPool { get }
    /// One line naming the engine, its sizes and the kernel features in use.
    var featureSummary: String { get }
    /// Syscalls and operations so far (see `EngineCounters` for what each engine counts).
    var counters: EngineCounters { get }

    func acceptMultishot(listener fd: Int32, tag: UInt64)
    /// `address` must stay valid until the next `wait` returns.
    func connect(fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t, tag: UInt64)
    /// `maxBytes` > 0 asks the receive to end by itself (a last completion with data and no
    /// `hasMore`) once that many bytes were received; the read that reaches the limit fills
    /// a whole buffer, so it may pass it by less than one buffer. A bound on what one arming
    /// can pull in. Engines that cannot (io_uring before the kernel's multishot limit) ignore it,
    /// so callers still cancel when their queue is full.
    func receiveMultishot(fd: Int32, tag: UInt64, maxBytes: Int)
    func cancelReceive(fd: Int32, tag: UInt64)
    func cancelAll(fd: Int32)
    func send(fd: Int32, message: UnsafeMutablePointer<msghdr>, totalBytes: Int, tag: UInt64)
    func shutdown(fd: Int32, how: Int32, tag: UInt64)
    /// Closes fd; the completion (kind .close) may be ignored.
    func close(fd: Int32, tag: UInt64)
    func timeout(milliseconds: Int, tag: UInt64)
    func releaseBuffer(_ id: UInt16)

    // MARK: Datagrams (UDP fan-out)

    /// Multishot receive of whole datagrams, each into its own pool buffer laid out as
    /// `Datagram` describes (source address, then payload; io_uring's recvmsg layout, which the
    /// epoll engine reproduces with recvmmsg). `Completion.result` is the bytes used in the
    /// buffer. Same multishot, backpressure and cancel rules as `receiveMultishot`.
    func receiveDatagramsMultishot(fd: Int32, tag: UInt64)
    /// Sends one datagram (`message` may name a destination in msg_name). Unlike `send`, any
    /// number may be in flight on one fd, they leave in the order queued, and several may
    /// reference the same bytes. Never waits for room: EAGAIN, ENOBUFS, ECONNREFUSED… come
    /// back as the result. `message`, its iovecs, name and bytes stay valid until it completes.
    func sendDatagram(fd: Int32, message: UnsafeMutablePointer<msghdr>, tag: UInt64)

    // MARK: Files (the SMTP spool)

    /// Writes `count` bytes from `bytes` at `offset` of a regular file. The result is the bytes
    /// written (possibly fewer: write the rest again) or -errno (ENOSPC, EDQUOT, EIO...).
    /// `bytes` stays valid until it completes. Operations on files are not ordered with each
    /// other: sync a file only after its writes completed.
    func writeFile(fd: Int32, bytes: UnsafeRawPointer, count: Int, offset: Int64, tag: UInt64)
    /// fsync (`dataOnly`: fdatasync) of a file or a directory fd. io_uring runs it in the
    /// kernel's workers, so many syncs proceed at once; the epoll engine blocks in the syscall
    /// at its next `wait` (the baseline), reporting the same completion.
    func syncFile(fd: Int32, dataOnly: Bool, tag: UInt64)

    /// Issues everything queued, waits up to `timeoutMs` (-1: forever) for at least one
    /// completion, and replaces `batch` with every completion ready.
    func wait(into batch: inout [Completion], timeoutMs: Int) throws(SystemError)

    /// Wakes a `wait` in progress from any thread (delivers a `.wake` completion).
    func wake()
    /// What other threads hold to call `wake`.
    var wakeHandle: WakeHandle { get }
}

/// The write end of a worker's wake-up eventfd, safe to use from any thread.
public struct WakeHandle: Sendable {
    let fd: Int32
    public func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }
}
