/// `uring-relay rtp` flags → `RTPRelayConfig`. Pure apart from resolving host names.
public enum RTPRelayCommand {
    public static let parser = FlagParser(
        command: "uring-relay rtp",
        summary: "Re-stream one RTP source to a list of receivers: RTP on --listen's port, RTCP on the next port, both relayed.",
        specs: [
            FlagSpec("listen", value: "HOST:PORT", help: "where the source sends RTP (RTCP to PORT+1), e.g. 0.0.0.0:5004"),
            FlagSpec("to", value: "HOST:PORT", help: "a receiver: RTP to PORT, sender reports to PORT+1", repeatable: true),
            FlagSpec("engine", value: "E", help: "uring, epoll or auto (auto: io_uring, else epoll with a warning)", default: "auto"),
            FlagSpec("rtcp-to-source", help: "forward receivers' RTCP reports to the source (default: read and count them)"),
            FlagSpec("buffers", value: "N", help: "pool buffers: datagrams in flight (a power of two, at most 32768)", default: "4096"),
            FlagSpec("buffer-size", value: "BYTES", help: "bytes per buffer: the largest datagram + 44 (256 to 64K+64)", default: "2048"),
            FlagSpec("max-sends", value: "N", help: "sends in flight at once, packets × destinations (at most 32768)", default: "32768"),
            FlagSpec("max-destinations", value: "N", help: "receivers at once, from --to and the API (at most --max-sends)", default: "4096"),
            FlagSpec("clock-rate", value: "HZ", help: "RTP timestamp rate, for jitter (90000 video, 48000 Opus…)", default: "90000"),
            FlagSpec("stats-interval", value: "DURATION", help: "how often the stats line is logged (0: never)", default: "10s"),
            FlagSpec("pin", help: "pin the worker to CPU 0"),
        ])

    public static func parse(_ args: [String]) throws(UsageError) -> RTPRelayConfig {
        let f = try parser.parse(args)
        try f.expectNoPositionals()
        let listen = try TCPRelayCommand.address(f, "listen")
        if listen.port == 65535 { throw .invalid("--listen \(listen): port 65535 leaves no port for RTCP") }
        let toTexts = try f.strings("to")
        if toTexts.isEmpty { throw .invalid("--to is required (at least one receiver)") }
        var destinations: [SocketAddress] = []
        for text in toTexts {
            let a: SocketAddress
            do { a = try SocketAddress.parse(text) } catch { throw .invalid("--to: \(error)") }
            if let e = RTPRelay.check(a, listen: listen) { throw .invalid("--to: \(e)") }
            // The same receiver twice would get every packet twice.
            if destinations.contains(a) { throw .invalid("--to \(text): \(a) is given twice") }
            destinations.append(a)
        }
        var c = RTPRelayConfig(listen: listen, destinations: destinations)
        let engine = try f.choice("engine", allowed: EngineChoice.allCases.map(\.rawValue), default: "auto")
        c.engine = EngineChoice(rawValue: engine)!
        c.rtcpToSource = f.flag("rtcp-to-source")
        c.buffers = try f.int("buffers", default: 4096, range: 2...BufferPool.maxCount)
        if c.buffers & (c.buffers - 1) != 0 { throw .invalid("--buffers must be a power of two, got \(c.buffers)") }
        c.bufferSize = try f.bytes("buffer-size", default: 2048, range: 256...(65536 + 64))
        c.maxSendsInFlight = try f.int("max-sends", default: 32768, range: 1...32768)
        c.maxDestinations = try f.int("max-destinations", default: min(4096, c.maxSendsInFlight), range: 1...c.maxSendsInFlight)
        if destinations.count > c.maxDestinations {
            throw .invalid("\(destinations.count) --to receivers, more than --max-destinations \(c.maxDestinations)")
        }
        c.clockRate = try f.int("clock-rate", default: 90000, range: 1...10_000_000)
        c.statsIntervalMs = try f.milliseconds("stats-interval", default: 10_000, range: 0...86_400_000)
        c.pinWorker = f.flag("pin")
        return c
    }
}
