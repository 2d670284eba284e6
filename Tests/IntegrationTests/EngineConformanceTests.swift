import Glibc
import Testing
@testable import UringRelay

/// The engine seam's promises, checked against both engines on real socketpairs: the relay
/// code above may rely on exactly these behaviours, whichever engine runs it.
@Suite struct EngineConformanceTests {
    static func makeEngine(_ kind: EngineChoice, buffers: Int = 8, bufferSize: Int = 4096) throws -> any IOEngine {
        switch kind {
        case .uring:
            var o = URingEngine.Options()
            o.bufferCount = buffers
            o.bufferSize = bufferSize
            o.maxOperationsInFlight = 64
            return try URingEngine(options: o)
        default:
            var o = EpollEngine.Options()
            o.bufferCount = buffers
            o.bufferSize = bufferSize
            return try EpollEngine(options: o)
        }
    }

    /// A connected, non-blocking stream socketpair.
    static func pair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        let r = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        precondition(r == 0)
        return (fds[0], fds[1])
    }

    /// Waits until `predicate` holds for a completion, collecting everything seen; bounded.
    static func collect(_ engine: any IOEngine, until predicate: (Completion) -> Bool) throws -> [Completion] {
        var seen: [Completion] = []
        var batch: [Completion] = []
        let deadline = MonotonicClock.nowMs() + 5000
        while MonotonicClock.nowMs() < deadline {
            try engine.wait(into: &batch, timeoutMs: 100)
            seen += batch
            if batch.contains(where: predicate) { return seen }
        }
        Issue.record("timed out waiting for a completion; saw \(seen.map { ($0.kind, $0.result) })")
        return seen
    }

    /// Queues a connect; the returned address storage must live until the next wait.
    static func connect(_ engine: any IOEngine, _ fd: Int32, to address: SocketAddress, tag: UInt64)
        -> UnsafeMutablePointer<sockaddr_storage>
    {
        let storage = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: 1)
        storage.initialize(to: address.storage)
        storage.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            engine.connect(fd: fd, address: $0, length: address.length, tag: tag)
        }
        return storage
    }

    static func write(_ fd: Int32, _ bytes: [UInt8]) {
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        precondition(n == bytes.count)
    }

    @Test(arguments: [EngineChoice.uring, .epoll])
    func multishotReceiveDeliversBuffersThenEOF(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        let engine = try Self.makeEngine(kind)
        let (a, b) = Self.pair()
        defer { close(a) }
        engine.receiveMultishot(fd: a, tag: 7, maxBytes: 0)
        Self.write(b, Array("hello".utf8))
        let first = try Self.collect(engine) { $0.kind == .receive }
        let data = try #require(first.first { $0.kind == .receive })
        #expect(data.tag == 7 && data.result == 5 && data.hasMore)
        let id = try #require(data.bufferID)
        let text = String(decoding: UnsafeRawBufferPointer(start: engine.buffers.pointer(id), count: 5), as: UTF8.self)
        #expect(text == "hello")
        engine.releaseBuffer(id)
        close(b)
        let rest = try Self.collect(engine) { $0.kind == .receive && !$0.hasMore }
        let last = try #require(rest.last { $0.kind == .receive })
        #expect(last.result == 0 && !last.hasMore && last.bufferID == nil)
    }

    @Test(arguments: [EngineChoice.uring, .epoll])
    func cancelReceiveEndsItWithOneFinalCompletion(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        let engine = try Self.makeEngine(kind)
        let (a, b) = Self.pair()
        defer { close(a); close(b) }
        engine.receiveMultishot(fd: a, tag: 3, maxBytes: 0)
        var batch: [Completion] = []
        try engine.wait(into: &batch, timeoutMs: 0)
        engine.cancelReceive(fd: a, tag: 3)
        let seen = try Self.collect(engine) { $0.kind == .receive && !$0.hasMore }
        let finals = seen.filter { $0.kind == .receive && !$0.hasMore }
        #expect(finals.count == 1)
        #expect(finals.first?.result == -ECANCELED)
    }

    @Test(arguments: [EngineChoice.uring, .epoll])
    func emptyPoolIsBackpressureNotAnError(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        // 4 buffers of 1 KiB; the peer writes 16 separate chunks. The receive must pause when
        // the pool is dry and resume, without the relay seeing ENOBUFS, once buffers return.
        let engine = try Self.makeEngine(kind, buffers: 4, bufferSize: 1024)
        let (a, b) = Self.pair()
        defer { close(a); close(b) }
        engine.receiveMultishot(fd: a, tag: 1, maxBytes: 0)
        var received = 0
        var held: [UInt16] = []
        var batch: [Completion] = []
        let total = 16 * 1024
        let deadline = MonotonicClock.nowMs() + 5000
        var written = 0
        while received < total && MonotonicClock.nowMs() < deadline {
            if written < total {
                Self.write(b, [UInt8](repeating: 0x41, count: 1024))
                written += 1024
            }
            try engine.wait(into: &batch, timeoutMs: 50)
            for c in batch where c.kind == .receive {
                #expect(c.result > 0, "receive ended with \(c.result)")
                #expect(c.hasMore)
                received += Int(c.result)
                if let id = c.bufferID { held.append(id) }
            }
            #expect(held.count <= 4)
            // Give buffers back only when the pool is dry, so the dry path is taken.
            if held.count == 4 {
                for id in held { engine.releaseBuffer(id) }
                held.removeAll()
            }
        }
        #expect(received == total)
    }

    @Test(arguments: [EngineChoice.uring, .epoll])
    func sendmsgShutdownTimeoutAndWake(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        let engine = try Self.makeEngine(kind)
        let (a, b) = Self.pair()
        defer { close(a); close(b) }
        let bytes = UnsafeMutableRawPointer.allocate(byteCount: 6, alignment: 1)
        defer { bytes.deallocate() }
        bytes.copyMemory(from: "abcdef", byteCount: 6)
        let iov = UnsafeMutablePointer<iovec>.allocate(capacity: 2)
        defer { iov.deallocate() }
        iov[0] = iovec(iov_base: bytes, iov_len: 2)
        iov[1] = iovec(iov_base: bytes + 2, iov_len: 4)
        let msg = UnsafeMutablePointer<msghdr>.allocate(capacity: 1)
        defer { msg.deallocate() }
        msg.pointee = msghdr()
        msg.pointee.msg_iov = iov
        msg.pointee.msg_iovlen = 2
        engine.send(fd: a, message: msg, totalBytes: 6, tag: 9)
        let sent = try Self.collect(engine) { $0.kind == .send }
        #expect(sent.first { $0.kind == .send }?.result == 6)
        var buf = [UInt8](repeating: 0, count: 16)
        let n = read(b, &buf, 16)
        #expect(n == 6 && String(decoding: buf[0..<6], as: UTF8.self) == "abcdef")

        engine.shutdown(fd: a, how: Int32(SHUT_WR), tag: 4)
        let shut = try Self.collect(engine) { $0.kind == .shutdown }
        #expect(shut.first { $0.kind == .shutdown }?.result == 0)
        #expect(read(b, &buf, 16) == 0)  // EOF reached the peer

        engine.timeout(milliseconds: 20, tag: 5)
        let fired = try Self.collect(engine) { $0.kind == .timeout }
        #expect(fired.first { $0.kind == .timeout }?.tag == 5)

        engine.wake()
        let woke = try Self.collect(engine) { $0.kind == .wake }
        #expect(woke.contains { $0.kind == .wake })
    }

    @Test(arguments: [EngineChoice.uring, .epoll])
    func acceptAndConnectOverLoopback(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        let engine = try Self.makeEngine(kind)
        let listener = try Socket.makeListener(.ipv4Loopback(port: 0), reusePort: false)
        defer { close(listener) }
        let address = try Socket.localAddress(of: listener)
        engine.acceptMultishot(listener: listener, tag: 1)
        let client = try Socket.makeStreamSocket(family: AF_INET)
        defer { close(client) }
        let storage = Self.connect(engine, client, to: address, tag: 2)
        defer { storage.deallocate() }
        var accepted: Int32 = -1
        var connected: Int32? = nil
        var batch: [Completion] = []
        let deadline = MonotonicClock.nowMs() + 5000
        while (accepted < 0 || connected == nil) && MonotonicClock.nowMs() < deadline {
            try engine.wait(into: &batch, timeoutMs: 100)
            for c in batch {
                if c.kind == .accept { accepted = c.result; #expect(c.hasMore) }
                if c.kind == .connect { connected = c.result }
            }
        }
        #expect(accepted >= 0)
        #expect(connected == 0)
        if accepted >= 0 { close(accepted) }
    }

    @Test(arguments: [EngineChoice.uring, .epoll])
    func connectRefusedReportsECONNREFUSED(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        let engine = try Self.makeEngine(kind)
        // A port nobody listens on: bind then close a listener to learn a free port.
        let l = try Socket.makeListener(.ipv4Loopback(port: 0), reusePort: false)
        let address = try Socket.localAddress(of: l)
        close(l)
        let client = try Socket.makeStreamSocket(family: AF_INET)
        defer { close(client) }
        let storage = Self.connect(engine, client, to: address, tag: 2)
        defer { storage.deallocate() }
        let seen = try Self.collect(engine) { $0.kind == .connect }
        #expect(seen.first { $0.kind == .connect }?.result == -ECONNREFUSED)
    }
    @Test(arguments: [EngineChoice.uring, .epoll])
    func limitedReceiveEndsAfterMaxBytes(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        let engine = try Self.makeEngine(kind, buffers: 16, bufferSize: 1024)
        if let u = engine as? URingEngine, !u.supportsReceiveLimit {
            if TestEnvironment.requirePeers { Issue.record("kernel lacks the multishot receive limit (6.16+)") }
            return
        }
        let (a, b) = Self.pair()
        defer { close(a); close(b) }
        Self.write(b, [UInt8](repeating: 7, count: 10_000))
        engine.receiveMultishot(fd: a, tag: 2, maxBytes: 3000)
        let seen = try Self.collect(engine) { $0.kind == .receive && !$0.hasMore }
        let receives = seen.filter { $0.kind == .receive }
        // Whole buffers: the read reaching the limit may pass it by less than one buffer.
        let total = receives.reduce(0) { $0 + Int($1.result) }
        #expect(total >= 3000 && total < 3000 + 1024, "received \(total)")
        let last = try #require(receives.last)
        #expect(!last.hasMore && last.result > 0 && last.bufferID != nil, "the limit ends the receive with data")
        for c in receives { if let id = c.bufferID { engine.releaseBuffer(id) } }
    }

    // MARK: - Datagrams

    /// A UDP socket bound to 127.0.0.1 on a free port, and its address.
    static func udp() throws -> (Int32, SocketAddress) {
        let fd = try Socket.makeDatagramSocket(.ipv4Loopback(port: 0))
        return (fd, try Socket.localAddress(of: fd))
    }

    static func sendTo(_ fd: Int32, _ bytes: [UInt8], _ to: SocketAddress) {
        let n = bytes.withUnsafeBytes { b in to.withSockAddr { sendto(fd, b.baseAddress, b.count, 0, $0, $1) } }
        precondition(n == bytes.count, "sendto: \(errno)")
    }

    /// Reads every datagram waiting on a nonblocking socket.
    static func drain(_ fd: Int32) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
            if n < 0 { break }
            out.append(Array(buf[0..<n]))
        }
        return out
    }

    /// Stable memory for datagram sends: one payload, one iovec, a msghdr per destination.
    final class SendMemory {
        let bytes: UnsafeMutableRawPointer
        let iov: UnsafeMutablePointer<iovec>
        let messages: UnsafeMutablePointer<msghdr>
        let names: UnsafeMutablePointer<sockaddr_storage>
        let count: Int
        init(payload: [UInt8], destinations: [SocketAddress?]) {
            count = destinations.count
            let b = UnsafeMutableRawPointer.allocate(byteCount: max(1, payload.count), alignment: 8)
            payload.withUnsafeBytes { if let p = $0.baseAddress { b.copyMemory(from: p, byteCount: payload.count) } }
            bytes = b
            iov = .allocate(capacity: 1)
            iov.pointee = iovec(iov_base: b, iov_len: payload.count)
            messages = .allocate(capacity: count)
            names = .allocate(capacity: count)
            for (i, d) in destinations.enumerated() {
                messages[i] = msghdr()
                messages[i].msg_iov = iov
                messages[i].msg_iovlen = 1
                if let d {
                    names[i] = d.storage
                    messages[i].msg_name = UnsafeMutableRawPointer(names + i)
                    messages[i].msg_namelen = d.length
                }
            }
        }
        deinit { bytes.deallocate(); iov.deallocate(); messages.deallocate(); names.deallocate() }
    }

    @Test(arguments: [EngineChoice.uring, .epoll])
    func datagramReceiveGivesSourceAndPayload(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        let engine = try Self.makeEngine(kind, buffers: 8, bufferSize: 1024)
        let (a, aAddress) = try Self.udp()
        let (b, bAddress) = try Self.udp()
        defer { close(a); close(b) }
        engine.receiveDatagramsMultishot(fd: a, tag: 11)
        let payloads: [[UInt8]] = [Array("one".utf8), [], [UInt8](repeating: 0x55, count: 900), [UInt8](repeating: 0x66, count: 2000)]
        for p in payloads { Self.sendTo(b, p, aAddress) }
        var got: [Completion] = []
        let deadline = MonotonicClock.nowMs() + 5000
        var batch: [Completion] = []
        while got.count < payloads.count && MonotonicClock.nowMs() < deadline {
            try engine.wait(into: &batch, timeoutMs: 100)
            got += batch.filter { $0.kind == .receive }
        }
        #expect(got.count == payloads.count)
        for (c, p) in zip(got, payloads) {
            #expect(c.tag == 11 && c.hasMore, "result \(c.result) flags \(c.flags)")
            let id = try #require(c.bufferID)
            let d = try #require(Datagram(buffer: engine.buffers.pointer(id), used: Int(c.result)))
            #expect(d.sourceAddress == bAddress)
            let room = 1024 - Datagram.payloadOffset
            #expect(d.truncated == (p.count > room), "\(p.count) bytes")
            #expect(d.payloadLength == min(p.count, room))
            #expect(Int(c.result) == Datagram.payloadOffset + min(p.count, room))
            #expect(Array(UnsafeRawBufferPointer(start: d.payload, count: d.payloadLength)) == Array(p.prefix(room)))
            engine.releaseBuffer(id)
        }
        engine.cancelReceive(fd: a, tag: 11)
        let end = try Self.collect(engine) { $0.kind == .receive && !$0.hasMore }
        #expect(end.filter { $0.kind == .receive && !$0.hasMore }.map(\.result) == [-ECANCELED])
    }

    @Test(arguments: [EngineChoice.uring, .epoll])
    func datagramSendsShareOneBufferAndLeaveInOrder(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        let engine = try Self.makeEngine(kind)
        let (sender, _) = try Self.udp()
        var receivers: [(Int32, SocketAddress)] = []
        for _ in 0..<3 { receivers.append(try Self.udp()) }
        defer { close(sender); for r in receivers { close(r.0) } }
        // 50 packets × 3 destinations, all queued before one wait: 150 sends in flight on one fd.
        var memories: [SendMemory] = []
        for seq in 0..<50 {
            let m = SendMemory(payload: [UInt8(seq)] + Array("payload".utf8), destinations: receivers.map { $0.1 })
            memories.append(m)
            for i in 0..<3 { engine.sendDatagram(fd: sender, message: m.messages + i, tag: UInt64(seq * 3 + i)) }
        }
        var results: [UInt64: Int32] = [:]
        var batch: [Completion] = []
        let deadline = MonotonicClock.nowMs() + 5000
        while results.count < 150 && MonotonicClock.nowMs() < deadline {
            try engine.wait(into: &batch, timeoutMs: 100)
            for c in batch where c.kind == .send {
                #expect(results[c.tag] == nil, "two completions for send \(c.tag)")
                results[c.tag] = c.result
            }
        }
        #expect(results.count == 150)
        #expect(results.values.allSatisfy { $0 == 8 })
        for r in receivers {
            let got = Self.drain(r.0)
            #expect(got == (0..<50).map { [UInt8($0)] + Array("payload".utf8) })
        }
        withExtendedLifetime(memories) {}
    }

    /// A fan-out over connected sockets queues packet 1 to every socket, then packet 2...: each
    /// socket still gets its datagrams in order, and the whole batch costs a few syscalls
    /// (io_uring: the waits' io_uring_enter calls; epoll: one sendmmsg per socket), not one
    /// per datagram.
    @Test(arguments: [EngineChoice.uring, .epoll])
    func datagramSendsInterleavedOverSocketsKeepEachSocketsOrder(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        let engine = try Self.makeEngine(kind)
        var receivers: [(Int32, SocketAddress)] = []
        var senders: [Int32] = []
        for _ in 0..<3 {
            let r = try Self.udp()
            receivers.append(r)
            senders.append(try Socket.makeConnectedDatagramSocket(local: .ipv4Loopback(port: 0), remote: r.1))
        }
        defer { for r in receivers { close(r.0) }; for s in senders { close(s) } }
        let before = engine.counters
        var memories: [SendMemory] = []
        for seq in 0..<50 {
            let m = SendMemory(payload: [UInt8(seq)], destinations: [nil])
            memories.append(m)
            for (i, fd) in senders.enumerated() { engine.sendDatagram(fd: fd, message: m.messages, tag: UInt64(seq * 3 + i)) }
        }
        var done = 0
        var waits = 0
        var batch: [Completion] = []
        let deadline = MonotonicClock.nowMs() + 5000
        while done < 150 && MonotonicClock.nowMs() < deadline {
            try engine.wait(into: &batch, timeoutMs: 100)
            waits += 1
            for c in batch where c.kind == .send {
                #expect(c.result == 1, "send \(c.tag): \(c.result)")
                done += 1
            }
        }
        #expect(done == 150)
        for r in receivers { #expect(Self.drain(r.0) == (0..<50).map { [UInt8($0)] }) }
        let after = engine.counters
        #expect(after.operations - before.operations >= 150)
        // Per wait: one io_uring_enter, or one epoll_wait; plus, for epoll, one sendmmsg per socket.
        let syscalls = after.syscalls - before.syscalls
        #expect(syscalls >= waits && syscalls <= 2 * waits + senders.count, "\(syscalls) syscalls over \(waits) waits")
        withExtendedLifetime(memories) {}
    }

    @Test(arguments: [EngineChoice.uring, .epoll])
    func datagramSendToFullSocketFailsWithEAGAINAtOnce(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        let engine = try Self.makeEngine(kind)
        // A unix datagram pair: the receiver's queue fills (loopback UDP never pushes back).
        var fds: [Int32] = [0, 0]
        precondition(socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let m = SendMemory(payload: [UInt8](repeating: 1, count: 512), destinations: [nil])
        let total = 600
        for i in 0..<total { engine.sendDatagram(fd: fds[0], message: m.messages, tag: UInt64(i)) }
        var results: [Int32] = []
        var batch: [Completion] = []
        let deadline = MonotonicClock.nowMs() + 5000
        while results.count < total && MonotonicClock.nowMs() < deadline {
            try engine.wait(into: &batch, timeoutMs: 100)
            results += batch.filter { $0.kind == .send }.map(\.result)
        }
        #expect(results.count == total, "every send completes without the peer reading")
        let sent = results.filter { $0 == 512 }.count
        let again = results.filter { $0 == -EAGAIN }.count
        #expect(sent + again == total, "other results: \(Set(results))")
        #expect(again > 0 && sent > 0)
        #expect(Self.drain(fds[1]).count == sent)
    }

    @Test(arguments: [EngineChoice.uring, .epoll])
    func datagramSendReportsECONNREFUSED(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        let engine = try Self.makeEngine(kind)
        let (closedFd, closedAddress) = try Self.udp()
        close(closedFd)
        let (sender, _) = try Self.udp()
        defer { close(sender) }
        // Connected: the ICMP port unreachable of one send fails a later one.
        let rc = closedAddress.withSockAddr { Glibc.connect(sender, $0, $1) }
        #expect(rc == 0)
        let m = SendMemory(payload: Array("x".utf8), destinations: [nil])
        var results: [Int32] = []
        for i in 0..<4 {
            engine.sendDatagram(fd: sender, message: m.messages, tag: UInt64(i))
            let seen = try Self.collect(engine) { $0.kind == .send }
            results += seen.filter { $0.kind == .send }.map(\.result)
            usleep(2000)
        }
        #expect(results.contains(-ECONNREFUSED), "\(results)")
        #expect(results.allSatisfy { $0 == 1 || $0 == -ECONNREFUSED })
    }

    @Test(arguments: [EngineChoice.uring, .epoll])
    func datagramEmptyPoolIsBackpressure(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        let engine = try Self.makeEngine(kind, buffers: 4, bufferSize: 512)
        let (a, aAddress) = try Self.udp()
        let (b, _) = try Self.udp()
        defer { close(a); close(b) }
        engine.receiveDatagramsMultishot(fd: a, tag: 1)
        for i in 0..<16 { Self.sendTo(b, [UInt8(i)], aAddress) }
        var got: [UInt8] = []
        var held: [UInt16] = []
        var batch: [Completion] = []
        let deadline = MonotonicClock.nowMs() + 5000
        while got.count < 16 && MonotonicClock.nowMs() < deadline {
            try engine.wait(into: &batch, timeoutMs: 50)
            for c in batch where c.kind == .receive {
                #expect(c.result > 0 && c.hasMore, "receive ended with \(c.result)")
                guard let id = c.bufferID, let d = Datagram(buffer: engine.buffers.pointer(id), used: Int(c.result)) else { continue }
                got.append(d.payload.load(as: UInt8.self))
                held.append(id)
            }
            #expect(held.count <= 4)
            if held.count == 4 {
                for id in held { engine.releaseBuffer(id) }
                held.removeAll()
            }
        }
        #expect(got == (0..<16).map { UInt8($0) })
    }
}
