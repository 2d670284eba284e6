import CURing
import Glibc

/// The io_uring engine: operations become SQEs, submitted together at each `wait` with one
/// io_uring_enter; CQEs are copied out in a batch and the CQ is advanced once per batch.
///
/// Receives are multishot and draw from a provided buffer ring (group 0) over the worker's
/// `BufferPool`. When the ring is empty a receive ends with ENOBUFS: the engine parks it and
/// re-arms it once enough buffers have come back, so relays only ever see backpressure.
public final class URingEngine: IOEngine {
    public let kind = EngineKind.uring
    public let buffers: BufferPool
    public private(set) var featureSummary = ""
    public private(set) var counters = EngineCounters()

    /// Environment hook for tests: makes ring set-up fail with this errno name (EPERM, ENOSYS…).
    public static let failSetupEnvironmentVariable = "URING_RELAY_FAIL_URING_SETUP"

    private let ring: UnsafeMutablePointer<io_uring>
    private let bufferRing: UnsafeMutablePointer<io_uring_buf_ring>
    private let bufferRingMask: Int32
    private let bufferGroup: UInt16 = 0
    /// Buffers added with io_uring_buf_ring_add but not yet published with advance.
    private var buffersToPublish: Int32 = 0
    private var freeBufferCount: Int
    /// Parked receives resume when this many buffers are free, so they do not bounce
    /// straight back into ENOBUFS.
    private let resumeThreshold: Int

    /// fd and byte limit of every armed receive, by tag: a CQE carries no fd, and a parked
    /// receive needs both to be re-armed.
    private var armedReceives: [UInt64: (fd: Int32, maxBytes: Int)] = [:]
    /// Whether the kernel honours a total byte limit on multishot receive (sqe->optlen,
    /// Linux 6.16+). Probed at start; without it backpressure relies on cancel alone.
    public private(set) var supportsReceiveLimit = false
    private var parkedReceiveTags: [UInt64] = []
    /// Armed receives that are datagram receives (recvmsg multishot), so a parked one is
    /// re-armed as what it was.
    private var datagramReceiveTags = Set<UInt64>()
    /// Datagram receives the relay cancelled: not re-armed behind its back (see dispatch).
    private var cancelledDatagramTags = Set<UInt64>()
    /// The msghdr every datagram receive shares: it only gives the layout (room for a
    /// sockaddr_in6, no control data); the kernel reads it at each arming.
    private let datagramTemplate: UnsafeMutablePointer<msghdr>
    /// Completions the engine makes itself (a parked receive cancelled), delivered next wait.
    private var syntheticCompletions: [Completion] = []

    private let zerocopyMinBytes: Int?
    /// send_zc posts its result first (F_MORE) and a notification when the buffer is free;
    /// the relay sees one completion, after the notification, with the first one's result.
    private var zerocopyResults: [UInt64: Int32] = [:]

    private let wakeFd: Int32
    private let wakeValue: UnsafeMutablePointer<UInt64>
    private var timeoutSpec: UnsafeMutablePointer<__kernel_timespec>

    private let batchCapacity: Int
    private let reapUserData: UnsafeMutablePointer<UInt64>
    private let reapResult: UnsafeMutablePointer<Int32>
    private let reapFlags: UnsafeMutablePointer<UInt32>
    private var closed = false

    public struct Options: Sendable {
        public var sqEntries: Int = 1024
        /// Size the CQ for the operations that can be in flight at once: multishot receives
        /// post one CQE per buffer, so the buffer count bounds them; plus the others.
        public var maxOperationsInFlight: Int = 4096
        public var bufferCount: Int = 2048
        public var bufferSize: Int = 16384
        /// nil: never send_zc. Otherwise sends of at least this many bytes use it.
        public var zerocopyMinBytes: Int? = nil
        public init() {}
    }

    public init(options: Options) throws(EngineSetupError) {
        if let forced = getenv(Self.failSetupEnvironmentVariable).map({ String(cString: $0) }), !forced.isEmpty {
            throw EngineSetupError.uringSetupFailure(errno: Self.errnoValue(named: forced))
        }
        do {
            buffers = try BufferPool(count: options.bufferCount, bufferSize: options.bufferSize)
        } catch {
            throw EngineSetupError(cause: "buffer pool: \(error)")
        }
        ring = .allocate(capacity: 1)
        ring.initialize(to: io_uring())
        let cqEntries = Self.nextPowerOfTwo(max(4 * options.maxOperationsInFlight, 2 * options.bufferCount, 2 * options.sqEntries))
        var flagsUsed: UInt32 = 0
        var kernelFeatures: UInt32 = 0
        let ret = curing_queue_init(ring, UInt32(options.sqEntries), UInt32(min(cqEntries, 65536)), &flagsUsed, &kernelFeatures)
        if ret < 0 {
            ring.deallocate()
            throw EngineSetupError.uringSetupFailure(errno: -ret)
        }
        let ring = self.ring
        func fail(_ e: EngineSetupError) -> EngineSetupError {
            io_uring_queue_exit(ring)
            ring.deallocate()
            return e
        }
        if kernelFeatures & CURING_FEAT_NODROP == 0 || kernelFeatures & CURING_FEAT_FAST_POLL == 0
            || kernelFeatures & CURING_FEAT_EXT_ARG == 0 {
            throw fail(.missingFeature("NODROP, FAST_POLL and EXT_ARG (kernel 5.11+)"))
        }
        // Multishot receive and send_zc both arrived in 6.0; probing the opcode tells us the
        // kernel generation without issuing a request.
        if curing_opcode_supported(ring, Int32(IORING_OP_SEND_ZC.rawValue)) == 0 {
            throw fail(.missingFeature("multishot receive (kernel 6.0+)"))
        }
        var err: Int32 = 0
        guard let br = curing_setup_buf_ring(ring, UInt32(options.bufferCount), 0, &err) else {
            throw fail(.missingFeature("provided buffer rings (kernel 5.19+): \(errnoName(-err))"))
        }
        bufferRing = br
        bufferRingMask = io_uring_buf_ring_mask(UInt32(options.bufferCount))
        freeBufferCount = options.bufferCount
        resumeThreshold = max(1, min(64, options.bufferCount / 8))
        zerocopyMinBytes = options.zerocopyMinBytes

        let efd = curing_eventfd()
        if efd < 0 {
            curing_free_buf_ring(ring, br, UInt32(options.bufferCount), 0)
            throw fail(EngineSetupError(cause: "eventfd: \(errnoName(-efd))"))
        }
        wakeFd = efd
        wakeValue = .allocate(capacity: 1)
        wakeValue.initialize(to: 0)
        timeoutSpec = .allocate(capacity: 1)
        timeoutSpec.initialize(to: __kernel_timespec())
        datagramTemplate = .allocate(capacity: 1)
        datagramTemplate.initialize(to: msghdr())
        datagramTemplate.pointee.msg_namelen = socklen_t(Datagram.nameCapacity)
        batchCapacity = 1024
        reapUserData = .allocate(capacity: batchCapacity)
        reapResult = .allocate(capacity: batchCapacity)
        reapFlags = .allocate(capacity: batchCapacity)
        armedReceives.reserveCapacity(options.maxOperationsInFlight)
        parkedReceiveTags.reserveCapacity(options.maxOperationsInFlight)
        syntheticCompletions.reserveCapacity(64)

        for id in 0..<options.bufferCount {
            io_uring_buf_ring_add(bufferRing, buffers.pointer(UInt16(id)), UInt32(buffers.bufferSize),
                                  UInt16(id), bufferRingMask, Int32(id))
        }
        io_uring_buf_ring_advance(bufferRing, Int32(options.bufferCount))
        armWake()
        supportsReceiveLimit = probeReceiveLimit()

        var names: [String] = []
        if flagsUsed & CURING_SETUP_SINGLE_ISSUER != 0 { names.append("single_issuer") }
        if flagsUsed & CURING_SETUP_DEFER_TASKRUN != 0 { names.append("defer_taskrun") }
        if flagsUsed & CURING_SETUP_COOP_TASKRUN != 0 { names.append("coop_taskrun") }
        names += ["multishot_accept", "multishot_recv", "buf_ring", "cqe_skip", "nodrop"]
        if supportsReceiveLimit { names.append("recv_limit") }
        if let z = zerocopyMinBytes { names.append("send_zc>=\(z)B") }
        featureSummary = "io_uring sq=\(ring.pointee.sq.ring_entries) cq=\(ring.pointee.cq.ring_entries) features=\(names.joined(separator: ","))"
    }

    deinit {
        if !closed {
            curing_free_buf_ring(ring, bufferRing, UInt32(buffers.count), 0)
            io_uring_queue_exit(ring)
            Glibc.close(wakeFd)
        }
        ring.deallocate()
        wakeValue.deallocate()
        timeoutSpec.deallocate()
        datagramTemplate.deallocate()
        reapUserData.deallocate()
        reapResult.deallocate()
        reapFlags.deallocate()
    }

    /// Creates and destroys a small ring to learn whether this engine can run here.
    public static func probe() -> Result<String, EngineSetupError> {
        var o = Options()
        o.sqEntries = 8
        o.bufferCount = 8
        o.bufferSize = 4096
        o.maxOperationsInFlight = 8
        do {
            let engine = try URingEngine(options: o)
            return .success(engine.featureSummary)
        } catch {
            return .failure(error)
        }
    }

    public var wakeHandle: WakeHandle { WakeHandle(fd: wakeFd) }
    public func wake() { wakeHandle.wake() }

    /// Arms a limited multishot receive on an idle socketpair: a kernel without the limit
    /// rejects the non-zero optlen (it reads it as file_index) with EINVAL at once; one with it
    /// leaves the receive pending, and the cancel ends it. Runs before any relay work.
    private func probeReceiveLimit() -> Bool {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, CURING_SOCK_STREAM | CURING_SOCK_CLOEXEC, 0, &fds) == 0 else { return false }
        defer { Glibc.close(fds[0]); Glibc.close(fds[1]) }
        let probeTag = UserData.tagMask
        submitReceive(fd: fds[0], tag: probeTag, maxBytes: 1)
        let nop = nextSQE()
        io_uring_prep_nop(nop)
        io_uring_sqe_set_data64(nop, OperationKind.cancel.userData(tag: probeTag))
        var rejected = false
        var sawNop = false
        var receiveEnded = false
        var cancelled = false
        var cqe: UnsafeMutablePointer<io_uring_cqe>? = nil
        for _ in 0..<8 {
            counters.syscalls += 1
            guard io_uring_submit_and_wait(ring, 1) >= 0, io_uring_peek_cqe(ring, &cqe) == 0, let e = cqe else { break }
            let c = Completion(userData: e.pointee.user_data, result: e.pointee.res, flags: e.pointee.flags)
            io_uring_cqe_seen(ring, e)
            if c.kind == .receive && c.tag == probeTag {
                receiveEnded = !c.hasMore
                if c.result == -EINVAL { rejected = true }
                if c.bufferID != nil { freeBufferCount -= 1; releaseBuffer(c.bufferID!) }
            }
            if c.kind == .cancel && c.tag == probeTag { sawNop = true }
            if sawNop && !receiveEnded && !cancelled {
                let cancel = nextSQE()
                io_uring_prep_cancel64(cancel, OperationKind.receive.userData(tag: probeTag), 0)
                io_uring_sqe_set_data64(cancel, OperationKind.close.userData(tag: probeTag))
                cancelled = true
            }
            if sawNop && receiveEnded { break }
        }
        return sawNop && receiveEnded && !rejected
    }

    // MARK: - Submission

    @inline(__always)
    private func nextSQE() -> UnsafeMutablePointer<io_uring_sqe> {
        counters.operations &+= 1
        if let sqe = io_uring_get_sqe(ring) { return sqe }
        // SQ full: push what is queued to the kernel and take a fresh slot.
        submitNow()
        guard let sqe = io_uring_get_sqe(ring) else { fatalError("io_uring SQ still full after submit") }
        return sqe
    }

    /// io_uring_submit, counted: at most one io_uring_enter.
    @inline(__always)
    private func submitNow() {
        counters.syscalls &+= 1
        _ = io_uring_submit(ring)
    }

    private func armWake() {
        let sqe = nextSQE()
        io_uring_prep_read(sqe, wakeFd, wakeValue, 8, 0)
        io_uring_sqe_set_data64(sqe, OperationKind.wake.userData(tag: 0))
    }

    public func acceptMultishot(listener fd: Int32, tag: UInt64) {
        let sqe = nextSQE()
        io_uring_prep_multishot_accept(sqe, fd, nil, nil, CURING_SOCK_NONBLOCK | CURING_SOCK_CLOEXEC)
        io_uring_sqe_set_data64(sqe, OperationKind.accept.userData(tag: tag))
    }

    public func connect(fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t, tag: UInt64) {
        let sqe = nextSQE()
        io_uring_prep_connect(sqe, fd, address, length)
        io_uring_sqe_set_data64(sqe, OperationKind.connect.userData(tag: tag))
    }

    public func receiveMultishot(fd: Int32, tag: UInt64, maxBytes: Int) {
        let limit = supportsReceiveLimit ? min(maxBytes, Int(Int32.max)) : 0
        armedReceives[tag] = (fd, limit)
        submitReceive(fd: fd, tag: tag, maxBytes: limit)
    }

    @inline(__always)
    private func submitReceive(fd: Int32, tag: UInt64, maxBytes: Int) {
        if !datagramReceiveTags.isEmpty && datagramReceiveTags.contains(tag) {
            submitDatagramReceive(fd: fd, tag: tag)
            return
        }
        let sqe = nextSQE()
        io_uring_prep_recv_multishot(sqe, fd, nil, 0, 0)
        sqe.pointee.flags |= CURING_IOSQE_BUFFER_SELECT
        sqe.pointee.buf_group = bufferGroup
        // sqe->optlen shares its place with file_index in liburing 2.3's header.
        sqe.pointee.file_index = UInt32(maxBytes)
        io_uring_sqe_set_data64(sqe, OperationKind.receive.userData(tag: tag))
    }

    public func receiveDatagramsMultishot(fd: Int32, tag: UInt64) {
        armedReceives[tag] = (fd, 0)
        datagramReceiveTags.insert(tag)
        submitDatagramReceive(fd: fd, tag: tag)
    }

    private func submitDatagramReceive(fd: Int32, tag: UInt64) {
        let sqe = nextSQE()
        io_uring_prep_recvmsg_multishot(sqe, fd, datagramTemplate, 0)
        sqe.pointee.flags |= CURING_IOSQE_BUFFER_SELECT
        sqe.pointee.buf_group = bufferGroup
        io_uring_sqe_set_data64(sqe, OperationKind.receive.userData(tag: tag))
    }

    public func sendDatagram(fd: Int32, message: UnsafeMutablePointer<msghdr>, tag: UInt64) {
        let sqe = nextSQE()
        // MSG_DONTWAIT: a full socket fails at once with EAGAIN (REQ_F_NOWAIT) instead of
        // waiting for room, so a slow destination loses its datagrams rather than queueing.
        io_uring_prep_sendmsg(sqe, fd, message, UInt32(CURING_MSG_NOSIGNAL | CURING_MSG_DONTWAIT))
        io_uring_sqe_set_data64(sqe, OperationKind.send.userData(tag: tag))
    }

    public func cancelReceive(fd: Int32, tag: UInt64) {
        if datagramReceiveTags.contains(tag) { cancelledDatagramTags.insert(tag) }
        if let i = parkedReceiveTags.firstIndex(of: tag) {
            parkedReceiveTags.remove(at: i)
            finishParkedReceive(tag: tag)
            return
        }
        let sqe = nextSQE()
        io_uring_prep_cancel64(sqe, OperationKind.receive.userData(tag: tag), 0)
        sqe.pointee.flags |= CURING_IOSQE_CQE_SKIP_SUCCESS
        io_uring_sqe_set_data64(sqe, OperationKind.cancel.userData(tag: tag))
        // Submit at once: until the cancel reaches the kernel, the multishot receive keeps
        // filling buffers at every task-work run, which is what backpressure is stopping.
        submitNow()
    }

    public func cancelAll(fd: Int32) {
        for tag in datagramReceiveTags where armedReceives[tag]?.fd == fd { cancelledDatagramTags.insert(tag) }
        parkedReceiveTags.removeAll { tag in
            guard armedReceives[tag]?.fd == fd else { return false }
            finishParkedReceive(tag: tag)
            return true
        }
        let sqe = nextSQE()
        io_uring_prep_cancel_fd(sqe, fd, CURING_ASYNC_CANCEL_ALL)
        sqe.pointee.flags |= CURING_IOSQE_CQE_SKIP_SUCCESS
        io_uring_sqe_set_data64(sqe, OperationKind.cancel.userData(tag: 0))
    }

    private func finishParkedReceive(tag: UInt64) {
        armedReceives[tag] = nil
        datagramReceiveTags.remove(tag)
        cancelledDatagramTags.remove(tag)
        syntheticCompletions.append(Completion(userData: OperationKind.receive.userData(tag: tag),
                                               result: -ECANCELED, flags: 0))
    }

    public func send(fd: Int32, message: UnsafeMutablePointer<msghdr>, totalBytes: Int, tag: UInt64) {
        let sqe = nextSQE()
        if let minimum = zerocopyMinBytes, totalBytes >= minimum {
            io_uring_prep_sendmsg_zc(sqe, fd, message, UInt32(CURING_MSG_NOSIGNAL))
        } else {
            io_uring_prep_sendmsg(sqe, fd, message, UInt32(CURING_MSG_NOSIGNAL))
        }
        io_uring_sqe_set_data64(sqe, OperationKind.send.userData(tag: tag))
    }

    public func shutdown(fd: Int32, how: Int32, tag: UInt64) {
        let sqe = nextSQE()
        io_uring_prep_shutdown(sqe, fd, how)
        io_uring_sqe_set_data64(sqe, OperationKind.shutdown.userData(tag: tag))
    }

    public func close(fd: Int32, tag: UInt64) {
        let sqe = nextSQE()
        io_uring_prep_close(sqe, fd)
        sqe.pointee.flags |= CURING_IOSQE_CQE_SKIP_SUCCESS
        io_uring_sqe_set_data64(sqe, OperationKind.close.userData(tag: tag))
    }

    public func timeout(milliseconds: Int, tag: UInt64) {
        let sqe = nextSQE()
        timeoutSpec.pointee.tv_sec = Int64(milliseconds / 1000)
        timeoutSpec.pointee.tv_nsec = Int64(milliseconds % 1000) * 1_000_000
        io_uring_prep_timeout(sqe, timeoutSpec, 0, 0)
        io_uring_sqe_set_data64(sqe, OperationKind.timeout.userData(tag: tag))
        // The kernel copies the timespec when it reads the SQE: submit now so one spec suffices.
        submitNow()
    }

    public func writeFile(fd: Int32, bytes: UnsafeRawPointer, count: Int, offset: Int64, tag: UInt64) {
        let sqe = nextSQE()
        io_uring_prep_write(sqe, fd, bytes, UInt32(min(count, Int(Int32.max))), UInt64(offset))
        io_uring_sqe_set_data64(sqe, OperationKind.fileWrite.userData(tag: tag))
    }

    public func syncFile(fd: Int32, dataOnly: Bool, tag: UInt64) {
        let sqe = nextSQE()
        io_uring_prep_fsync(sqe, fd, dataOnly ? CURING_FSYNC_DATASYNC : 0)
        io_uring_sqe_set_data64(sqe, OperationKind.fileSync.userData(tag: tag))
    }

    @inline(__always)
    public func releaseBuffer(_ id: UInt16) {
        io_uring_buf_ring_add(bufferRing, buffers.pointer(id), UInt32(buffers.bufferSize), id,
                              bufferRingMask, buffersToPublish)
        buffersToPublish += 1
        freeBufferCount += 1
    }

    // MARK: - Completion

    public func wait(into batch: inout [Completion], timeoutMs: Int) throws(SystemError) {
        batch.removeAll(keepingCapacity: true)
        publishReleasedBuffers()
        let mustNotBlock = !syntheticCompletions.isEmpty || io_uring_cq_ready(ring) > 0
        counters.syscalls &+= 1
        let ret = curing_submit_and_wait_ms(ring, mustNotBlock ? 0 : 1, mustNotBlock ? 0 : Int32(timeoutMs))
        if ret < 0 && ret != -EAGAIN && ret != -EBUSY {
            throw SystemError(operation: "io_uring_enter", errno: -ret)
        }
        if !syntheticCompletions.isEmpty {
            batch.append(contentsOf: syntheticCompletions)
            syntheticCompletions.removeAll(keepingCapacity: true)
        }
        while true {
            let n = Int(curing_peek_batch(ring, reapUserData, reapResult, reapFlags, UInt32(batchCapacity)))
            if n == 0 { break }
            for i in 0..<n {
                dispatch(userData: reapUserData[i], result: reapResult[i], flags: reapFlags[i], into: &batch)
            }
            io_uring_cq_advance(ring, UInt32(n))
            if n < batchCapacity { break }
        }
    }

    @inline(__always)
    private func dispatch(userData: UInt64, result: Int32, flags: UInt32, into batch: inout [Completion]) {
        let c = Completion(userData: userData, result: result, flags: flags)
        switch c.kind {
        case .receive:
            if c.bufferID != nil { freeBufferCount -= 1 }
            if !c.hasMore {
                if result == -ENOBUFS, armedReceives[c.tag] != nil {
                    // Pool dry: backpressure. Park; resumed in publishReleasedBuffers.
                    parkedReceiveTags.append(c.tag)
                    return
                }
                if result > 0, !datagramReceiveTags.isEmpty, datagramReceiveTags.contains(c.tag),
                   !cancelledDatagramTags.contains(c.tag), let r = armedReceives[c.tag] {
                    // The kernel ends a multishot recvmsg after an empty datagram (its payload
                    // length 0 reads as EOF). A datagram socket has no EOF: re-arm at once and
                    // hand the relay a completion that says "more", as the epoll engine does.
                    submitDatagramReceive(fd: r.fd, tag: c.tag)
                    batch.append(Completion(userData: userData, result: result, flags: flags | CURING_CQE_F_MORE))
                    return
                }
                armedReceives[c.tag] = nil
                if !datagramReceiveTags.isEmpty {
                    datagramReceiveTags.remove(c.tag)
                    cancelledDatagramTags.remove(c.tag)
                }
            }
            batch.append(c)
        case .send:
            if flags & CURING_CQE_F_NOTIF != 0 {
                let r = zerocopyResults.removeValue(forKey: userData) ?? 0
                batch.append(Completion(userData: userData, result: r, flags: 0))
            } else if c.hasMore {
                zerocopyResults[userData] = result
            } else {
                batch.append(Completion(userData: userData, result: result, flags: 0))
            }
        case .wake:
            armWake()
            batch.append(c)
        case .cancel, .close:
            // Only failures post a CQE (CQE_SKIP_SUCCESS); ENOENT/EALREADY just mean the
            // operation had already finished. Nothing for the relay to do.
            break
        default:
            batch.append(c)
        }
    }

    @inline(__always)
    private func publishReleasedBuffers() {
        if buffersToPublish > 0 {
            io_uring_buf_ring_advance(bufferRing, buffersToPublish)
            buffersToPublish = 0
        }
        if !parkedReceiveTags.isEmpty && freeBufferCount >= resumeThreshold {
            for tag in parkedReceiveTags {
                if let r = armedReceives[tag] { submitReceive(fd: r.fd, tag: tag, maxBytes: r.maxBytes) }
            }
            parkedReceiveTags.removeAll(keepingCapacity: true)
        }
    }

    static func nextPowerOfTwo(_ v: Int) -> Int {
        var p = 1
        while p < v { p <<= 1 }
        return p
    }

    static func errnoValue(named name: String) -> Int32 {
        switch name.uppercased() {
        case "EPERM": return EPERM
        case "ENOSYS": return ENOSYS
        case "ENOMEM": return ENOMEM
        case "EINVAL": return EINVAL
        default: return Int32(name) ?? EPERM
        }
    }
}
