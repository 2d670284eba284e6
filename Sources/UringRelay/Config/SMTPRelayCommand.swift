import Glibc

/// `uring-relay smtp` flags → `SMTPRelayConfig`. Pure apart from name resolution of the
/// addresses and reading the machine's host name for the default `--hostname`.
public enum SMTPRelayCommand {
    public static let parser = FlagParser(
        command: "uring-relay smtp",
        summary: "Accept mail over SMTP on --listen and relay each message to the --upstream smarthost, "
            + "cut-through: the client's 250 is the upstream's.",
        specs: [
            FlagSpec("listen", value: "HOST:PORT", help: "address to accept SMTP clients on, e.g. 127.0.0.1:2525 or [::1]:2525"),
            FlagSpec("upstream", value: "HOST:PORT", help: "the smarthost every message is relayed to"),
            FlagSpec("hostname", value: "NAME", help: "our name in the greeting, EHLO and Received headers", default: "this machine's host name"),
            FlagSpec("allow", value: "CIDR", help: "clients that may relay; others get 554 5.7.1 at RCPT",
                     repeatable: true, default: "127.0.0.0/8 and ::1/128"),
            FlagSpec("max-size", value: "BYTES", help: "largest message accepted (552 beyond; SIZE in EHLO)", default: "25M"),
            FlagSpec("max-rcpt", value: "N", help: "recipients per message (452 beyond)", default: "100"),
            FlagSpec("max-hops", value: "N", help: "Received fields a message may carry, ours included (554 5.4.6 beyond: a mail loop)", default: "50"),
            FlagSpec("bare-lf", value: "POLICY", help: "reject (550 5.5.2) or normalize (rewrite to CRLF) bare LF in DATA", default: "reject"),
            FlagSpec("engine", value: "E", help: "uring, epoll or auto (auto: io_uring, else epoll with a warning)", default: "auto"),
            FlagSpec("threads", value: "N", help: "worker threads, each with its own ring and listener", default: "one per core"),
            FlagSpec("max-conns", value: "N", help: "client sessions across workers; beyond it clients get 421", default: "1024"),
            FlagSpec("buffers", value: "N", help: "pool buffers per worker (a power of two, at most 32768)", default: "4096"),
            FlagSpec("buffer-size", value: "BYTES", help: "size of each pool buffer (512 to 1M)", default: "16K"),
            FlagSpec("connect-timeout", value: "DURATION", help: "upstream connect and greeting timeout", default: "30s"),
            FlagSpec("upstream-timeout", value: "DURATION", help: "time the upstream may take to answer a command", default: "5m"),
            FlagSpec("command-timeout", value: "DURATION", help: "time a client may take to send its next command or data", default: "5m"),
            FlagSpec("upstream-idle", value: "N", help: "idle upstream connections kept per worker for reuse (0: none)", default: "16"),
            FlagSpec("upstream-idle-timeout", value: "DURATION", help: "how long an idle upstream connection is kept", default: "10s"),
            FlagSpec("drain-timeout", value: "DURATION", help: "on SIGINT/SIGTERM, time open sessions get to finish", default: "30s"),
            FlagSpec("pin", help: "pin worker i to CPU i"),
            FlagSpec("mode", value: "MODE", help: "relay (cut-through: the client's 250 is the upstream's) or queue (store in --spool, answer 250, deliver later)", default: "relay"),
            FlagSpec("spool", value: "DIR", help: "queue mode: the durable spool directory (created if missing)"),
            FlagSpec("spool-max-bytes", value: "BYTES", help: "queue mode: spool size beyond which new mail gets 452 4.3.1", default: "1G"),
            FlagSpec("retry-initial", value: "DURATION", help: "queue mode: wait after the first transient failure (doubles each time)", default: "5m"),
            FlagSpec("retry-max", value: "DURATION", help: "queue mode: longest wait between attempts", default: "4h"),
            FlagSpec("retry-give-up", value: "DURATION", help: "queue mode: age at which a message still failing is bounced", default: "120h (5 days)"),
            FlagSpec("max-deliveries", value: "N", help: "queue mode: deliveries in flight per worker (one upstream connection each)", default: "16"),
        ])

    public static func parse(_ args: [String], cpuCount: Int) throws(UsageError) -> SMTPRelayConfig {
        let f = try parser.parse(args)
        try f.expectNoPositionals()
        let listen = try TCPRelayCommand.address(f, "listen")
        let upstream = try TCPRelayCommand.address(f, "upstream")
        if upstream.port == 0 { throw .invalid("--upstream needs a port other than 0, got \(upstream)") }
        let hostname = try f.string("hostname") ?? machineHostname()
        guard isValidHostname(hostname) else {
            throw .invalid("--hostname must be a domain name (letters, digits, '-' and '.', at most 255), got \"\(hostname)\"")
        }
        var c = SMTPRelayConfig(listen: listen, upstream: upstream, hostname: hostname)
        let allow = try f.strings("allow")
        if !allow.isEmpty {
            var networks: [CIDR] = []
            for text in allow {
                do { networks.append(try CIDR.parse(text)) } catch { throw .invalid("--allow: \(error)") }
            }
            c.allow = networks
        }
        c.maxMessageBytes = try f.bytes("max-size", default: 25 << 20, range: 1024...(1 << 40))
        c.maxRecipients = try f.int("max-rcpt", default: 100, range: 1...100_000)
        c.maxHops = try f.int("max-hops", default: 50, range: 1...1000)
        c.bareLineEndings = try f.choice("bare-lf", allowed: ["reject", "normalize"], default: "reject") == "reject" ? .reject : .normalize
        c.engine = EngineChoice(rawValue: try f.choice("engine", allowed: EngineChoice.allCases.map(\.rawValue), default: "auto"))!
        c.threads = try f.int("threads", default: max(1, cpuCount), range: 1...256)
        c.maxConnections = try f.int("max-conns", default: 1024, range: 1...1_000_000)
        c.buffersPerWorker = try f.int("buffers", default: 4096, range: 16...BufferPool.maxCount)
        if c.buffersPerWorker & (c.buffersPerWorker - 1) != 0 {
            throw .invalid("--buffers must be a power of two, got \(c.buffersPerWorker)")
        }
        c.bufferSize = try f.bytes("buffer-size", default: 16384, range: 512...(1 << 20))
        c.connectTimeoutMs = try f.milliseconds("connect-timeout", default: 30_000, range: 1...3_600_000)
        c.upstreamTimeoutMs = try f.milliseconds("upstream-timeout", default: 300_000, range: 1...3_600_000)
        c.commandTimeoutMs = try f.milliseconds("command-timeout", default: 300_000, range: 1...3_600_000)
        c.upstreamIdleMax = try f.int("upstream-idle", default: 16, range: 0...10_000)
        c.upstreamIdleTimeoutMs = try f.milliseconds("upstream-idle-timeout", default: 10_000, range: 1...3_600_000)
        c.drainTimeoutMs = try f.milliseconds("drain-timeout", default: 30_000, range: 0...3_600_000)
        c.pinWorkers = f.flag("pin")
        c.delivery = SMTPDeliveryMode(rawValue: try f.choice("mode", allowed: SMTPDeliveryMode.allCases.map(\.rawValue), default: "relay"))!
        c.spoolDirectory = try f.string("spool")
        if c.delivery == .queue && c.spoolDirectory == nil { throw .invalid("--mode queue needs --spool DIR") }
        if c.delivery == .relay && c.spoolDirectory != nil { throw .invalid("--spool is for --mode queue") }
        c.spoolMaxBytes = try f.bytes("spool-max-bytes", default: 1 << 30, range: 4096...(1 << 50))
        let initial = try f.milliseconds("retry-initial", default: 300_000, range: 1...(30 * 86_400_000))
        let maxDelay = try f.milliseconds("retry-max", default: 4 * 3_600_000, range: 1...(30 * 86_400_000))
        let giveUp = try f.milliseconds("retry-give-up", default: 5 * 86_400_000, range: 1000...(365 * 86_400_000))
        if maxDelay < initial { throw .invalid("--retry-max must be at least --retry-initial") }
        // A give-up shorter than the first wait bounces mail on its first transient failure.
        if giveUp < initial { throw .invalid("--retry-give-up must be at least --retry-initial") }
        if c.delivery == .relay {
            for name in ["spool-max-bytes", "retry-initial", "retry-max", "retry-give-up", "max-deliveries"] where try f.string(name) != nil {
                throw .invalid("--\(name) is for --mode queue")
            }
        }
        c.retrySchedule = SpoolRetrySchedule(initialDelayMs: Int64(initial), maxDelayMs: Int64(maxDelay), maxAgeMs: Int64(giveUp))
        c.maxDeliveriesPerWorker = try f.int("max-deliveries", default: 16, range: 1...10_000)
        return c
    }

    /// RFC 1123 host name characters only: the name goes into every greeting and header, so
    /// nothing that could break a line or a header may pass.
    static func isValidHostname(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 255, bytes.first != UInt8(ascii: "."), bytes.first != UInt8(ascii: "-"),
              bytes.last != UInt8(ascii: "."), !name.contains("..") else {
            return false
        }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
        }
    }

    static func machineHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return isValidHostname(name) ? name : "localhost"
    }
}
