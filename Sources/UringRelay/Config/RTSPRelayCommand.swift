/// `uring-relay rtsp` flags → `RTSPRelayConfig`. Pure apart from name resolution of --listen.
public enum RTSPRelayCommand {
    public static let parser = FlagParser(
        command: "uring-relay rtsp",
        summary: "Serve RTSP readers from cameras pulled once (or from streams published to us), "
            + "over RTP/UDP or interleaved in the RTSP connection.",
        specs: [
            FlagSpec("listen", value: "HOST:PORT", help: "where readers and publishers connect, e.g. 0.0.0.0:8554"),
            FlagSpec("path", value: "NAME=SOURCE", help: "a stream: NAME=rtsp://[user:pass@]host[:port]/… (pulled while watched), "
                + "NAME=always:rtsp://… (pulled from start-up) or NAME=publish (ANNOUNCE/RECORD)", repeatable: true),
            FlagSpec("on-demand-close", value: "SECONDS", help: "disconnect a pulled source this long after its last reader left", default: "10"),
            FlagSpec("source-transport", value: "T", help: "how sources are pulled: tcp (interleaved) or udp", default: "tcp"),
            FlagSpec("session-timeout", value: "SECONDS", help: "readers' RTSP session timeout (requests or RTCP keep it alive)", default: "60"),
            FlagSpec("source-timeout", value: "DURATION", help: "time a source gets to answer DESCRIBE…PLAY, and the longest silence of a playing source", default: "10s"),
            FlagSpec("retry-max", value: "DURATION", help: "longest wait between reconnects to a source (backoff from 1 s)", default: "30s"),
            FlagSpec("udp-port", value: "PORT", help: "even UDP port for RTP to and from UDP peers (RTCP on the next); 0 picks a free pair", default: "0"),
            FlagSpec("max-readers", value: "N", help: "playing sessions across all paths (453 beyond)", default: "1024"),
            FlagSpec("max-conns", value: "N", help: "RTSP connections from readers and publishers", default: "1024"),
            FlagSpec("max-conns-per-ip", value: "N", help: "of those, from one IP address", default: "64"),
            FlagSpec("request-timeout", value: "DURATION", help: "time a client may take to send one request once started (408 beyond)", default: "10s"),
            FlagSpec("idle-timeout", value: "DURATION", help: "close a client connection with no session and no request this long", default: "30s"),
            FlagSpec("reader-queue", value: "BYTES", help: "bytes a TCP reader may have queued before it is dropped", default: "4M"),
            FlagSpec("packet-store", value: "BYTES", help: "memory for packets in flight and keyframe caches", default: "64M"),
            FlagSpec("keyframe-cache", value: "BYTES", help: "per track, bytes since the last keyframe kept for new readers", default: "4M"),
            FlagSpec("engine", value: "E", help: "uring, epoll or auto (auto: io_uring, else epoll with a warning)", default: "auto"),
            FlagSpec("buffers", value: "N", help: "receive pool buffers (a power of two, at most 32768)", default: "2048"),
            FlagSpec("buffer-size", value: "BYTES", help: "size of each pool buffer (2K to 1M; a UDP datagram must fit with 44 bytes)", default: "16K"),
            FlagSpec("drain-timeout", value: "DURATION", help: "on SIGINT/SIGTERM, time to flush readers and tear sources down", default: "2s"),
            FlagSpec("pin", help: "pin the worker to CPU 0"),
        ])

    public static func parse(_ args: [String]) throws(UsageError) -> RTSPRelayConfig {
        let f = try parser.parse(args)
        try f.expectNoPositionals()
        let listen = try TCPRelayCommand.address(f, "listen")
        var specs: [RTSPPathSpec] = []
        for text in try f.strings("path") {
            switch RTSPPathSpec.parse(text) {
            case .failure(let why): throw .invalid("--path: \(why)")
            case .success(let spec):
                if specs.contains(where: { $0.name == spec.name }) { throw .invalid("--path \(spec.name) is given twice") }
                specs.append(spec)
            }
        }
        if specs.isEmpty { throw .invalid("--path is required (at least one stream: NAME=rtsp://… or NAME=publish)") }
        var c = RTSPRelayConfig(listen: listen, paths: specs)
        c.onDemandCloseMs = try f.int("on-demand-close", default: 10, range: 0...86_400) * 1000
        c.sourceTransport = RTSPLowerTransport(rawValue: try f.choice("source-transport", allowed: ["tcp", "udp"], default: "tcp"))!
        c.sessionTimeoutMs = try f.int("session-timeout", default: 60, range: 5...3600) * 1000
        c.sourceTimeoutMs = try f.milliseconds("source-timeout", default: 10_000, range: 500...600_000)
        c.sourceRetryMaxMs = try f.milliseconds("retry-max", default: 30_000, range: 100...3_600_000)
        c.sourceRetryInitialMs = min(1000, c.sourceRetryMaxMs)
        let port = try f.int("udp-port", default: 0, range: 0...65534)
        if port % 2 != 0 { throw .invalid("--udp-port must be even (RTCP uses the next port), got \(port)") }
        c.udpRTPPort = UInt16(port)
        c.maxReaders = try f.int("max-readers", default: 1024, range: 1...100_000)
        c.maxConnections = try f.int("max-conns", default: 1024, range: 1...100_000)
        c.maxConnectionsPerIP = try f.int("max-conns-per-ip", default: 64, range: 1...100_000)
        c.requestTimeoutMs = try f.milliseconds("request-timeout", default: 10_000, range: 100...600_000)
        c.idleTimeoutMs = try f.milliseconds("idle-timeout", default: 30_000, range: 100...3_600_000)
        c.readerQueueBytes = try f.bytes("reader-queue", default: 4 << 20, range: (70 << 10)...(1 << 30))
        c.packetArenaBytes = try f.bytes("packet-store", default: 64 << 20, range: (1 << 20)...(16 << 30))
        c.keyframeCacheBytes = try f.bytes("keyframe-cache", default: 4 << 20, range: 0...(1 << 30))
        if c.keyframeCacheBytes * specs.count > c.packetArenaBytes / 2 {
            throw .invalid("--keyframe-cache \(c.keyframeCacheBytes) × \(specs.count) path(s) needs a --packet-store of at least twice that")
        }
        c.engine = EngineChoice(rawValue: try f.choice("engine", allowed: EngineChoice.allCases.map(\.rawValue), default: "auto"))!
        c.buffersPerWorker = try f.int("buffers", default: 2048, range: 16...BufferPool.maxCount)
        if c.buffersPerWorker & (c.buffersPerWorker - 1) != 0 { throw .invalid("--buffers must be a power of two, got \(c.buffersPerWorker)") }
        c.bufferSize = try f.bytes("buffer-size", default: 16384, range: 2048...(1 << 20))
        c.drainTimeoutMs = try f.milliseconds("drain-timeout", default: 2_000, range: 0...600_000)
        c.pinWorkers = f.flag("pin")
        return c
    }
}
