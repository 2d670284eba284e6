import CURing
import Glibc

/// The epoll engine: the same completion interface as `URingEngine`, done with edge-triggered
/// epoll and non-blocking syscalls. It is the fallback where io_uring is unavailable and the
/// baseline relay-bench compares against, so it uses the same pool, the same batch shape and
/// the same multishot semantics; only the I/O mechanism differs.
///
/// Each fd is registered once (IN|OUT|RDHUP, edge-triggered) and its readiness cached. An
/// operation on an fd marks it dirty; `wait` runs the syscalls for dirty fds, then waits for
/// readiness, then runs them again, and hands back everything that finished.
public final class EpollEngine: IOEngine {
    public let kind = EngineKind.epoll
    public let buffers: BufferPool
    public let featureSummary: String
    public private(set) var counters = EngineCounters()

    private struct FdState {
        var registered = false
        var readable = false
        var writable = false
        var dirty = false
        var waitingForBuffer = false
        var acceptTag: UInt64? = nil
        var receiveTag: UInt64? = nil
        /// Bytes the armed receive may still take (0: no limit), as io_uring's optlen limit.
        var receiveBytesLeft = 0
        /// The armed receive takes whole datagrams (recvmmsg into the recvmsg layout).
        var receiveDatagrams = false
        var connectTag: UInt64? = nil
        var sendTag: UInt64? = nil
        var sendMessage: UnsafeMutablePointer<msghdr>? = nil
    }

    private let epfd: Int32
    private let wakeFd: Int32
    private static let wakeMarker = UInt64.max

    private var fdStates: UnsafeMutablePointer<FdState>
    private var fdCapacity: Int
    private var dirtyFds: [Int32] = []
    private var dirtySpare: [Int32] = []
    private var fdsWaitingForBuffers: [Int32] = []
    private var pendingCompletions: [Completion] = []

    private let freeBufferIDs: UnsafeMutablePointer<UInt16>
    private var freeBufferCount: Int
    private let resumeThreshold: Int

    private var timers: [(deadlineMs: Int64, userData: UInt64)] = []

    /// File writes and syncs queued since the last wait, run in order (blocking) at the next.
    private struct FileOperation {
        var fd: Int32
        /// nil: a sync.
        var bytes: UnsafeRawPointer?
        var count: Int
        var offset: Int64
        var dataOnly: Bool
        var userData: UInt64
    }
    private var fileOperations: [FileOperation] = []

    /// Datagram sends queued since the last wait, in order (fd -1: cancelled before the flush).
    /// Each fd's sends are also chained (`datagramSendNext`, from `datagramChains[fd]`), so the
    /// flush makes one sendmmsg run per fd, whatever the interleaving: a fan-out over connected
    /// sockets queues packet 1 to every destination, then packet 2..., and a run per
    /// consecutive fd would then be one syscall per datagram. Order is kept per fd, which is
    /// all the seam promises.
    private var datagramSendFds: [Int32] = []
    private var datagramSendMessages: [UnsafeMutablePointer<msghdr>] = []
    private var datagramSendTags: [UInt64] = []
    private var datagramSendNext: [Int32] = []
    /// Per fd (indexed by fd): first and last queued send, -1 when none.
    private var datagramChains: UnsafeMutablePointer<(head: Int32, tail: Int32)>
    private var datagramChainCapacity = 1024
    /// fds with a chain, in the order their first send was queued.
    private var datagramChainFds: [Int32] = []
    /// One fd's run gathered for sendmmsg (message pointers, results), then scattered back.
    private var datagramRunMessages: [UnsafeMutablePointer<msghdr>?] = []
    private var datagramRunResults: UnsafeMutablePointer<Int32>
    private var datagramSendResults: UnsafeMutablePointer<Int32>
    private var datagramSendResultsCapacity = 0
    /// Datagrams per recvmmsg.
    private let datagramReceiveBatch = 32
    private let datagramBuffers: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let datagramResults: UnsafeMutablePointer<Int32>

    private let eventCapacity = 256
    private let eventData: UnsafeMutablePointer<UInt64>
    private let eventFlags: UnsafeMutablePointer<UInt32>

    /// Reads per fd per round before others get their turn (edge-triggered fairness).
    private let receiveBudgetPerRound = 16
    private let acceptBudgetPerRound = 64

    public struct Options: Sendable {
        public var bufferCount: Int = 2048
        public var bufferSize: Int = 16384
        public init() {}
    }

    public init(options: Options) throws(EngineSetupError) {
        do {
            buffers = try BufferPool(count: options.bufferCount, bufferSize: options.bufferSize)
        } catch {
            throw EngineSetupError(cause: "buffer pool: \(error)")
        }
        let e = curing_epoll_create()
        guard e >= 0 else { throw EngineSetupError(cause: "epoll_create1: \(errnoName(-e))") }
        epfd = e
        let w = curing_eventfd()
        guard w >= 0 else {
            Glibc.close(e)
            throw EngineSetupError(cause: "eventfd: \(errnoName(-w))")
        }
        wakeFd = w
        _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_ADD, wakeFd, CURING_EPOLLIN | CURING_EPOLLET, Self.wakeMarker)
        fdCapacity = 1024
        fdStates = .allocate(capacity: fdCapacity)
        fdStates.initialize(repeating: FdState(), count: fdCapacity)
        freeBufferIDs = .allocate(capacity: options.bufferCount)
        for i in 0..<options.bufferCount { freeBufferIDs[i] = UInt16(options.bufferCount - 1 - i) }
        freeBufferCount = options.bufferCount
        resumeThreshold = max(1, min(64, options.bufferCount / 8))
        eventData = .allocate(capacity: eventCapacity)
        eventFlags = .allocate(capacity: eventCapacity)
        datagramSendResults = .allocate(capacity: 1)
        datagramRunResults = .allocate(capacity: 1)
        datagramChains = .allocate(capacity: datagramChainCapacity)
        datagramChains.initialize(repeating: (-1, -1), count: datagramChainCapacity)
        datagramBuffers = .allocate(capacity: 64)
        datagramBuffers.initialize(repeating: nil, count: 64)
        datagramResults = .allocate(capacity: 64)
        dirtyFds.reserveCapacity(1024)
        dirtySpare.reserveCapacity(1024)
        pendingCompletions.reserveCapacity(1024)
        featureSummary = "epoll edge-triggered, non-blocking syscalls"
    }

    deinit {
        Glibc.close(epfd)
        Glibc.close(wakeFd)
        fdStates.deinitialize(count: fdCapacity)
        fdStates.deallocate()
        freeBufferIDs.deallocate()
        eventData.deallocate()
        eventFlags.deallocate()
        datagramSendResults.deallocate()
        datagramRunResults.deallocate()
        datagramChains.deallocate()
        datagramBuffers.deallocate()
        datagramResults.deallocate()
    }

    public var wakeHandle: WakeHandle { WakeHandle(fd: wakeFd) }
    public func wake() { wakeHandle.wake() }

    // MARK: - Operations

    @inline(__always)
    private func state(_ fd: Int32) -> UnsafeMutablePointer<FdState> {
        let i = Int(fd)
        if i >= fdCapacity {
            var newCapacity = fdCapacity
            while newCapacity <= i { newCapacity *= 2 }
            let grown = UnsafeMutablePointer<FdState>.allocate(capacity: newCapacity)
            grown.moveInitialize(from: fdStates, count: fdCapacity)
            (grown + fdCapacity).initialize(repeating: FdState(), count: newCapacity - fdCapacity)
            fdStates.deallocate()
            fdStates = grown
            fdCapacity = newCapacity
        }
        let s = fdStates + i
        if !s.pointee.registered {
            // Edge-triggered: readiness is reported once per change, so it is cached in
            // FdState. New fds start optimistic (try the syscall; EAGAIN clears the flag).
            counters.syscalls &+= 1
            let r = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_ADD, fd,
                                     CURING_EPOLLIN | CURING_EPOLLOUT | CURING_EPOLLRDHUP | CURING_EPOLLET, UInt64(fd))
            s.pointee = FdState()
            s.pointee.registered = r == 0
            s.pointee.readable = true
            s.pointee.writable = true
        }
        return s
    }

    @inline(__always)
    private func markDirty(_ fd: Int32, _ s: UnsafeMutablePointer<FdState>) {
        if !s.pointee.dirty {
            s.pointee.dirty = true
            dirtyFds.append(fd)
        }
    }

    public func acceptMultishot(listener fd: Int32, tag: UInt64) {
        counters.operations &+= 1
        let s = state(fd)
        s.pointee.acceptTag = tag
        markDirty(fd, s)
    }

    public func connect(fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t, tag: UInt64) {
        let s = state(fd)
        counters.operations &+= 1
        counters.syscalls &+= 1
        let r = Glibc.connect(fd, address, length)
        if r == 0 {
            pendingCompletions.append(Completion(userData: OperationKind.connect.userData(tag: tag), result: 0, flags: 0))
        } else if errno == EINPROGRESS {
            s.pointee.writable = false
            s.pointee.connectTag = tag
        } else {
            pendingCompletions.append(Completion(userData: OperationKind.connect.userData(tag: tag), result: -errno, flags: 0))
        }
    }

    public func receiveMultishot(fd: Int32, tag: UInt64, maxBytes: Int) {
        counters.operations &+= 1
        let s = state(fd)
        s.pointee.receiveTag = tag
        s.pointee.receiveBytesLeft = maxBytes
        s.pointee.receiveDatagrams = false
        markDirty(fd, s)
    }

    public func receiveDatagramsMultishot(fd: Int32, tag: UInt64) {
        counters.operations &+= 1
        let s = state(fd)
        s.pointee.receiveTag = tag
        s.pointee.receiveBytesLeft = 0
        s.pointee.receiveDatagrams = true
        markDirty(fd, s)
    }

    public func sendDatagram(fd: Int32, message: UnsafeMutablePointer<msghdr>, tag: UInt64) {
        counters.operations &+= 1
        let i = Int32(datagramSendFds.count)
        datagramSendFds.append(fd)
        datagramSendMessages.append(message)
        datagramSendTags.append(OperationKind.send.userData(tag: tag))
        datagramSendNext.append(-1)
        let chain = datagramChain(fd)
        if chain.pointee.head < 0 {
            chain.pointee = (i, i)
            datagramChainFds.append(fd)
        } else {
            datagramSendNext[Int(chain.pointee.tail)] = i
            chain.pointee.tail = i
        }
    }

    @inline(__always)
    private func datagramChain(_ fd: Int32) -> UnsafeMutablePointer<(head: Int32, tail: Int32)> {
        let i = Int(fd)
        if i >= datagramChainCapacity {
            var newCapacity = datagramChainCapacity
            while newCapacity <= i { newCapacity *= 2 }
            let grown = UnsafeMutablePointer<(head: Int32, tail: Int32)>.allocate(capacity: newCapacity)
            grown.moveInitialize(from: datagramChains, count: datagramChainCapacity)
            (grown + datagramChainCapacity).initialize(repeating: (-1, -1), count: newCapacity - datagramChainCapacity)
            datagramChains.deallocate()
            datagramChains = grown
            datagramChainCapacity = newCapacity
        }
        return datagramChains + i
    }

    /// Sends every queued datagram: one sendmmsg run per fd (in the order of each fd's first
    /// send, each fd's datagrams in queue order), one completion per datagram.
    private func flushDatagramSends(into batch: inout [Completion]) {
        let count = datagramSendFds.count
        guard count > 0 else { return }
        if count > datagramSendResultsCapacity {
            datagramSendResults.deallocate()
            datagramRunResults.deallocate()
            datagramSendResultsCapacity = max(count, 2 * datagramSendResultsCapacity)
            datagramSendResults = .allocate(capacity: datagramSendResultsCapacity)
            datagramRunResults = .allocate(capacity: datagramSendResultsCapacity)
        }
        for fd in datagramChainFds {
            let chain = datagramChains + Int(fd)
            let head = chain.pointee.head
            chain.pointee = (-1, -1)
            datagramRunMessages.removeAll(keepingCapacity: true)
            var i = head
            while i >= 0 {
                datagramRunMessages.append(datagramSendMessages[Int(i)])
                i = datagramSendNext[Int(i)]
            }
            let n = datagramRunMessages.count
            datagramRunMessages.withUnsafeBufferPointer { run in
                counters.syscalls &+= Int(curing_sendmmsg_each(fd, run.baseAddress!, UInt32(n), datagramRunResults))
            }
            var k = 0
            i = head
            while i >= 0 {
                datagramSendResults[Int(i)] = datagramRunResults[k]
                k += 1
                i = datagramSendNext[Int(i)]
            }
        }
        for i in 0..<count where datagramSendFds[i] >= 0 {
            batch.append(Completion(userData: datagramSendTags[i], result: datagramSendResults[i], flags: 0))
        }
        datagramSendFds.removeAll(keepingCapacity: true)
        datagramSendMessages.removeAll(keepingCapacity: true)
        datagramSendTags.removeAll(keepingCapacity: true)
        datagramSendNext.removeAll(keepingCapacity: true)
        datagramChainFds.removeAll(keepingCapacity: true)
    }

    /// Queued datagram sends on fd end with `result` (the fd is being closed or cancelled):
    /// marked cancelled in the queue, and the fd's chain dropped.
    private func failDatagramSends(fd: Int32, result: Int32) {
        guard Int(fd) < datagramChainCapacity, datagramChains[Int(fd)].head >= 0 else { return }
        var i = datagramChains[Int(fd)].head
        while i >= 0 {
            pendingCompletions.append(Completion(userData: datagramSendTags[Int(i)], result: result, flags: 0))
            datagramSendFds[Int(i)] = -1
            i = datagramSendNext[Int(i)]
        }
        datagramChains[Int(fd)] = (-1, -1)
        datagramChainFds.removeAll { $0 == fd }
    }

    public func cancelReceive(fd: Int32, tag: UInt64) {
        let s = state(fd)
        if s.pointee.receiveTag == tag {
            s.pointee.receiveTag = nil
            pendingCompletions.append(Completion(userData: OperationKind.receive.userData(tag: tag), result: -ECANCELED, flags: 0))
        }
    }

    public func cancelAll(fd: Int32) {
        let s = state(fd)
        failAll(s, result: -ECANCELED)
        failDatagramSends(fd: fd, result: -ECANCELED)
    }

    private func failAll(_ s: UnsafeMutablePointer<FdState>, result: Int32) {
        if let t = s.pointee.acceptTag {
            pendingCompletions.append(Completion(userData: OperationKind.accept.userData(tag: t), result: result, flags: 0))
        }
        if let t = s.pointee.receiveTag {
            pendingCompletions.append(Completion(userData: OperationKind.receive.userData(tag: t), result: result, flags: 0))
        }
        if let t = s.pointee.connectTag {
            pendingCompletions.append(Completion(userData: OperationKind.connect.userData(tag: t), result: result, flags: 0))
        }
        if let t = s.pointee.sendTag {
            pendingCompletions.append(Completion(userData: OperationKind.send.userData(tag: t), result: result, flags: 0))
        }
        s.pointee.acceptTag = nil
        s.pointee.receiveTag = nil
        s.pointee.connectTag = nil
        s.pointee.sendTag = nil
        s.pointee.sendMessage = nil
    }

    public func send(fd: Int32, message: UnsafeMutablePointer<msghdr>, totalBytes: Int, tag: UInt64) {
        counters.operations &+= 1
        let s = state(fd)
        s.pointee.sendTag = tag
        s.pointee.sendMessage = message
        markDirty(fd, s)
    }

    public func shutdown(fd: Int32, how: Int32, tag: UInt64) {
        counters.operations &+= 1
        counters.syscalls &+= 1
        let r = Glibc.shutdown(fd, how)
        pendingCompletions.append(Completion(userData: OperationKind.shutdown.userData(tag: tag),
                                             result: r == 0 ? 0 : -errno, flags: 0))
    }

    public func close(fd: Int32, tag: UInt64) {
        failDatagramSends(fd: fd, result: -ECANCELED)
        if Int(fd) < fdCapacity {
            let s = fdStates + Int(fd)
            if s.pointee.registered {
                failAll(s, result: -ECANCELED)
                counters.syscalls &+= 1
                _ = curing_epoll_ctl(epfd, CURING_EPOLL_CTL_DEL, fd, 0, 0)
            }
            // A later fd with this number is a new file: forget everything about this one.
            // (A stale entry left in dirtyFds is skipped because `dirty` is false.)
            s.pointee = FdState()
        }
        counters.operations &+= 1
        counters.syscalls &+= 1
        Glibc.close(fd)
    }

    public func timeout(milliseconds: Int, tag: UInt64) {
        counters.operations &+= 1
        timers.append((MonotonicClock.nowMs() + Int64(milliseconds), OperationKind.timeout.userData(tag: tag)))
    }

    public func writeFile(fd: Int32, bytes: UnsafeRawPointer, count: Int, offset: Int64, tag: UInt64) {
        counters.operations &+= 1
        fileOperations.append(FileOperation(fd: fd, bytes: bytes, count: count, offset: offset, dataOnly: false,
                                            userData: OperationKind.fileWrite.userData(tag: tag)))
    }

    public func syncFile(fd: Int32, dataOnly: Bool, tag: UInt64) {
        counters.operations &+= 1
        fileOperations.append(FileOperation(fd: fd, bytes: nil, count: 0, offset: 0, dataOnly: dataOnly,
                                            userData: OperationKind.fileSync.userData(tag: tag)))
    }

    /// Regular files are always "ready": epoll cannot wait for them, so the syscalls simply
    /// block here, one after another, as a plain server loop would.
    private func runFileOperations(into batch: inout [Completion]) {
        guard !fileOperations.isEmpty else { return }
        for op in fileOperations {
            counters.syscalls &+= 1
            let r: Int
            if let bytes = op.bytes {
                r = pwrite(op.fd, bytes, op.count, off_t(op.offset))
            } else {
                r = Int(op.dataOnly ? fdatasync(op.fd) : fsync(op.fd))
            }
            batch.append(Completion(userData: op.userData, result: r < 0 ? -errno : Int32(clamping: r), flags: 0))
        }
        fileOperations.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    public func releaseBuffer(_ id: UInt16) {
        freeBufferIDs[freeBufferCount] = id
        freeBufferCount += 1
        if !fdsWaitingForBuffers.isEmpty && freeBufferCount >= resumeThreshold {
            for fd in fdsWaitingForBuffers {
                let s = fdStates + Int(fd)
                s.pointee.waitingForBuffer = false
                if s.pointee.receiveTag != nil { markDirty(fd, s) }
            }
            fdsWaitingForBuffers.removeAll(keepingCapacity: true)
        }
    }

    // MARK: - The loop

    public func wait(into batch: inout [Completion], timeoutMs: Int) throws(SystemError) {
        batch.removeAll(keepingCapacity: true)
        swap(&batch, &pendingCompletions)
        runFileOperations(into: &batch)
        flushDatagramSends(into: &batch)
        processDirtyFds(into: &batch)
        fireTimers(into: &batch)

        var waitMs = (batch.isEmpty && dirtyFds.isEmpty) ? timeoutMs : 0
        if waitMs != 0, let next = timers.map(\.deadlineMs).min() {
            let untilNext = Int(max(0, next - MonotonicClock.nowMs()))
            waitMs = waitMs < 0 ? untilNext : min(waitMs, untilNext)
        }
        counters.syscalls &+= 1
        let n = curing_epoll_wait(epfd, eventData, eventFlags, Int32(eventCapacity), Int32(waitMs))
        if n < 0 { throw SystemError(operation: "epoll_wait", errno: -n) }
        for i in 0..<Int(n) {
            let data = eventData[i]
            if data == Self.wakeMarker {
                var value: UInt64 = 0
                counters.syscalls &+= 1
                _ = Glibc.read(wakeFd, &value, 8)
                batch.append(Completion(userData: OperationKind.wake.userData(tag: 0), result: 8, flags: 0))
                continue
            }
            let fd = Int32(truncatingIfNeeded: data)
            guard Int(fd) < fdCapacity else { continue }
            let s = fdStates + Int(fd)
            guard s.pointee.registered else { continue }
            let ev = eventFlags[i]
            if ev & (CURING_EPOLLIN | CURING_EPOLLRDHUP | CURING_EPOLLHUP | CURING_EPOLLERR) != 0 { s.pointee.readable = true }
            if ev & (CURING_EPOLLOUT | CURING_EPOLLHUP | CURING_EPOLLERR) != 0 { s.pointee.writable = true }
            markDirty(fd, s)
        }
        processDirtyFds(into: &batch)
        fireTimers(into: &batch)
        if !pendingCompletions.isEmpty {
            batch.append(contentsOf: pendingCompletions)
            pendingCompletions.removeAll(keepingCapacity: true)
        }
    }

    private func fireTimers(into batch: inout [Completion]) {
        guard !timers.isEmpty else { return }
        let now = MonotonicClock.nowMs()
        var i = 0
        while i < timers.count {
            if timers[i].deadlineMs <= now {
                batch.append(Completion(userData: timers[i].userData, result: -ETIME, flags: 0))
                timers.swapAt(i, timers.count - 1)
                timers.removeLast()
            } else {
                i += 1
            }
        }
    }

    private func processDirtyFds(into batch: inout [Completion]) {
        guard !dirtyFds.isEmpty else { return }
        swap(&dirtyFds, &dirtySpare)
        for fd in dirtySpare {
            let s = fdStates + Int(fd)
            guard s.pointee.dirty else { continue }
            s.pointee.dirty = false
            process(fd, s, into: &batch)
        }
        dirtySpare.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    private func process(_ fd: Int32, _ s: UnsafeMutablePointer<FdState>, into batch: inout [Completion]) {
        if let tag = s.pointee.connectTag, s.pointee.writable {
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            counters.syscalls &+= 1
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            s.pointee.connectTag = nil
            batch.append(Completion(userData: OperationKind.connect.userData(tag: tag), result: -err, flags: 0))
        }
        if let tag = s.pointee.sendTag, s.pointee.writable, let msg = s.pointee.sendMessage {
            counters.syscalls &+= 1
            let r = sendmsg(fd, msg, CURING_MSG_NOSIGNAL | Int32(MSG_DONTWAIT))
            if r >= 0 {
                s.pointee.sendTag = nil
                s.pointee.sendMessage = nil
                batch.append(Completion(userData: OperationKind.send.userData(tag: tag), result: Int32(r), flags: 0))
            } else if errno == EAGAIN {
                s.pointee.writable = false
            } else {
                s.pointee.sendTag = nil
                s.pointee.sendMessage = nil
                batch.append(Completion(userData: OperationKind.send.userData(tag: tag), result: -errno, flags: 0))
            }
        }
        if let tag = s.pointee.acceptTag, s.pointee.readable {
            var accepted = 0
            while accepted < acceptBudgetPerRound {
                counters.syscalls &+= 1
                let r = curing_accept4(fd, nil, nil, CURING_SOCK_NONBLOCK | CURING_SOCK_CLOEXEC)
                if r >= 0 {
                    accepted += 1
                    batch.append(Completion(userData: OperationKind.accept.userData(tag: tag), result: r,
                                            flags: Completion.flags(bufferID: nil, more: true)))
                } else if r == -EAGAIN {
                    s.pointee.readable = false
                    break
                } else if r == -EINTR || r == -ECONNABORTED {
                    continue
                } else {
                    // Like io_uring's multishot accept: an error ends the operation.
                    s.pointee.acceptTag = nil
                    batch.append(Completion(userData: OperationKind.accept.userData(tag: tag), result: r, flags: 0))
                    break
                }
            }
            if accepted == acceptBudgetPerRound { markDirty(fd, s) }
        }
        if let tag = s.pointee.receiveTag, s.pointee.readable, !s.pointee.waitingForBuffer, s.pointee.receiveDatagrams {
            receiveDatagrams(fd, s, tag: tag, into: &batch)
            return
        }
        if let tag = s.pointee.receiveTag, s.pointee.readable, !s.pointee.waitingForBuffer {
            var reads = 0
            while reads < receiveBudgetPerRound {
                guard freeBufferCount > 0 else {
                    // Pool dry: backpressure. Resumed from releaseBuffer.
                    s.pointee.waitingForBuffer = true
                    fdsWaitingForBuffers.append(fd)
                    return
                }
                let id = freeBufferIDs[freeBufferCount - 1]
                let left = s.pointee.receiveBytesLeft
                // Whole buffers, as the kernel does: the read that reaches the limit may pass it.
                counters.syscalls &+= 1
                let r = Glibc.recv(fd, buffers.pointer(id), buffers.bufferSize, Int32(MSG_DONTWAIT))
                if r > 0 {
                    freeBufferCount -= 1
                    reads += 1
                    // A limited receive that reached its limit ends with this completion.
                    let done = left > 0 && r >= left
                    if left > 0 { s.pointee.receiveBytesLeft = left - r }
                    if done { s.pointee.receiveTag = nil }
                    batch.append(Completion(userData: OperationKind.receive.userData(tag: tag), result: Int32(r),
                                            flags: Completion.flags(bufferID: id, more: !done)))
                    if done { return }
                    continue
                }
                if r < 0 && errno == EAGAIN {
                    s.pointee.readable = false
                    return
                }
                if r < 0 && errno == EINTR { continue }
                // EOF (0) or an error ends the receive, as a multishot recv ends in io_uring.
                s.pointee.receiveTag = nil
                batch.append(Completion(userData: OperationKind.receive.userData(tag: tag), result: r == 0 ? 0 : -errno, flags: 0))
                return
            }
            markDirty(fd, s)
        }
    }

    /// Like io_uring's multishot recvmsg: each datagram in its own buffer, in `Datagram`'s
    /// layout; recvmmsg takes up to `datagramReceiveBatch` per call, `receiveBudgetPerRound`
    /// calls per round. A dry pool parks the receive; an error ends it.
    private func receiveDatagrams(_ fd: Int32, _ s: UnsafeMutablePointer<FdState>, tag: UInt64, into batch: inout [Completion]) {
        let userData = OperationKind.receive.userData(tag: tag)
        var calls = 0
        while calls < receiveBudgetPerRound {
            guard freeBufferCount > 0 else {
                s.pointee.waitingForBuffer = true
                fdsWaitingForBuffers.append(fd)
                return
            }
            let k = min(freeBufferCount, datagramReceiveBatch)
            for i in 0..<k { datagramBuffers[i] = buffers.pointer(freeBufferIDs[freeBufferCount - 1 - i]) }
            let n = Int(curing_recvmmsg_layout(fd, datagramBuffers, UInt32(buffers.bufferSize), UInt32(Datagram.nameCapacity),
                                               UInt32(k), datagramResults))
            calls += 1
            counters.syscalls &+= 1
            if n == -Int(EAGAIN) {
                s.pointee.readable = false
                return
            }
            if n < 0 {
                s.pointee.receiveTag = nil
                batch.append(Completion(userData: userData, result: Int32(n), flags: 0))
                return
            }
            for i in 0..<n {
                let id = freeBufferIDs[freeBufferCount - 1]
                freeBufferCount -= 1
                batch.append(Completion(userData: userData, result: datagramResults[i], flags: Completion.flags(bufferID: id, more: true)))
            }
            if n < k {
                // Fewer than asked: the queue is empty (a new datagram is a new edge).
                s.pointee.readable = false
                return
            }
        }
        markDirty(fd, s)
    }
}
