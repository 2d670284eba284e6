/// `uring-relay tcp` flags → `TCPRelayConfig`. Pure: no I/O beyond name resolution of the
/// addresses given, so it can be tested line by line.
public enum TCPRelayCommand {
    public static let parser = FlagParser(
        command: "uring-relay tcp",
        summary: "Relay TCP connections from --listen to --upstream (an L4 proxy), IPv4 and IPv6.",
        specs: [
            FlagSpec("listen", value: "HOST:PORT", help: "address to accept clients on, e.g. 127.0.0.1:9000 or [::1]:9000"),
            FlagSpec("upstream", value: "HOST:PORT", help: "address each client connection is relayed to"),
            FlagSpec("engine", value: "E", help: "uring, epoll or auto (auto: io_uring, else epoll with a warning)", default: "auto"),
            FlagSpec("threads", value: "N", help: "worker threads, each with its own ring and listener", default: "one per core"),
            FlagSpec("max-conns", value: "N", help: "open client connections across workers; beyond it clients are reset", default: "4096"),
            FlagSpec("buffers", value: "N", help: "pool buffers per worker (a power of two, at most 32768)", default: "4096"),
            FlagSpec("buffer-size", value: "BYTES", help: "size of each pool buffer (512 to 1M)", default: "16K"),
            FlagSpec("conn-buffers", value: "N", help: "buffers one direction of a connection may hold before reading pauses", default: "16"),
            FlagSpec("connect-timeout", value: "DURATION", help: "upstream connect timeout (ms, s, m)", default: "5s"),
            FlagSpec("idle-timeout", value: "DURATION", help: "close a connection idle in both directions this long", default: "5m"),
            FlagSpec("drain-timeout", value: "DURATION", help: "on SIGINT/SIGTERM, time open connections get to finish", default: "10s"),
            FlagSpec("zerocopy", help: "send with io_uring send_zc for sends of 16 KiB or more (loses on loopback)"),
            FlagSpec("pin", help: "pin worker i to CPU i"),
        ])

    public static func parse(_ args: [String], cpuCount: Int) throws(UsageError) -> TCPRelayConfig {
        let f = try parser.parse(args)
        try f.expectNoPositionals()
        let listen = try address(f, "listen")
        let upstream = try address(f, "upstream")
        if upstream.port == 0 { throw .invalid("--upstream needs a port other than 0, got \(upstream)") }
        var c = TCPRelayConfig(listen: listen, upstream: upstream)
        let engine = try f.choice("engine", allowed: EngineChoice.allCases.map(\.rawValue), default: "auto")
        c.engine = EngineChoice(rawValue: engine)!
        c.threads = try f.int("threads", default: max(1, cpuCount), range: 1...256)
        c.maxConnections = try f.int("max-conns", default: 4096, range: 1...1_000_000)
        c.buffersPerWorker = try f.int("buffers", default: 4096, range: 2...BufferPool.maxCount)
        if c.buffersPerWorker & (c.buffersPerWorker - 1) != 0 {
            throw .invalid("--buffers must be a power of two, got \(c.buffersPerWorker)")
        }
        c.bufferSize = try f.bytes("buffer-size", default: 16384, range: 512...(1 << 20))
        c.buffersPerDirection = try f.int("conn-buffers", default: 16, range: 2...1024)
        if c.buffersPerDirection * 2 > c.buffersPerWorker {
            throw .invalid("--conn-buffers \(c.buffersPerDirection) needs --buffers of at least \(c.buffersPerDirection * 2)")
        }
        c.connectTimeoutMs = try f.milliseconds("connect-timeout", default: 5_000, range: 1...3_600_000)
        c.idleTimeoutMs = try f.milliseconds("idle-timeout", default: 300_000, range: 1...86_400_000)
        c.drainTimeoutMs = try f.milliseconds("drain-timeout", default: 10_000, range: 0...3_600_000)
        c.zerocopyMinBytes = f.flag("zerocopy") ? 16384 : nil
        c.pinWorkers = f.flag("pin")
        return c
    }

    static func address(_ f: ParsedFlags, _ name: String) throws(UsageError) -> SocketAddress {
        let text = try f.required(name)
        do {
            return try SocketAddress.parse(text)
        } catch {
            throw .invalid("--\(name): \(error)")
        }
    }
}
