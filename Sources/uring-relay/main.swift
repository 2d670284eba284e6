import Glibc
import UringRelay

/// uring-relay MODE [flags]. Exit codes: 0 done, 1 runtime failure, 2 usage error.
let usage = """
usage: uring-relay MODE [flags]

A relay server whose socket I/O goes through io_uring (epoll as fallback and baseline).

modes:
  tcp     relay TCP connections to an upstream (L4 proxy)
  smtp    relay mail to a smarthost, cut-through
  rtp     fan one RTP stream out to receivers
  rtsp    serve RTSP readers from cameras pulled once, or from published streams
  queue   list, flush or delete the messages of an smtp --mode queue spool

Run `uring-relay MODE --help` for a mode's flags.

"""

func fail(_ message: String, code: Int32) -> Never {
    FileHandleStderr.write("uring-relay: \(message)\n")
    exit(code)
}

enum FileHandleStderr {
    static func write(_ s: String) {
        var s = s
        s.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let mode = arguments.first else {
    FileHandleStderr.write(usage)
    exit(2)
}
switch mode {
case "-h", "--help", "help":
    print(usage, terminator: "")
    exit(0)
case "tcp":
    runTCP(Array(arguments.dropFirst()))
case "smtp":
    runSMTP(Array(arguments.dropFirst()))
case "rtp":
    runRTP(Array(arguments.dropFirst()))
case "rtsp":
    runRTSP(Array(arguments.dropFirst()))
case "queue":
    runQueue(Array(arguments.dropFirst()))
default:
    fail("unknown mode \"\(mode)\" (expected tcp, smtp, rtp, rtsp or queue; see uring-relay --help)", code: 2)
}

func runTCP(_ args: [String]) -> Never {
    let config: TCPRelayConfig
    do {
        config = try TCPRelayCommand.parse(args, cpuCount: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    } catch .helpRequested {
        print(TCPRelayCommand.parser.helpText, terminator: "")
        exit(0)
    } catch {
        fail("\(error)", code: 2)
    }
    serve(TCPRelayServer(config: config)) { s in
        "\(s.connectionsAcceptedTotal) connections, \(s.bytesRelayedTotal) bytes relayed, \(s.connectionsRefusedTotal) refused, \(s.upstreamConnectFailuresTotal) upstream connect failures"
    }
}

func runSMTP(_ args: [String]) -> Never {
    let config: SMTPRelayConfig
    do {
        config = try SMTPRelayCommand.parse(args, cpuCount: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    } catch .helpRequested {
        print(SMTPRelayCommand.parser.helpText, terminator: "")
        exit(0)
    } catch {
        fail("\(error)", code: 2)
    }
    serve(SMTPRelayServer(config: config)) { s in
        "\(s.connectionsAcceptedTotal) sessions, \(s.messagesRelayedTotal) messages relayed, \(s.connectionsRefusedTotal) refused, \(s.upstreamConnectFailuresTotal) upstream connect failures"
    }
}

func runQueue(_ args: [String]) -> Never {
    let action: SpoolQueueCommand.Action
    let path: String
    do {
        (action, path) = try SpoolQueueCommand.parse(args)
    } catch .helpRequested {
        print(SpoolQueueCommand.parser.helpText, terminator: "")
        exit(0)
    } catch {
        fail("queue: \(error)", code: 2)
    }
    let spool = SpoolDirectory(path: path)
    let messages: [SpooledMessage]
    do { messages = try spool.open(create: false) } catch { fail("queue: \(error)", code: 1) }
    switch action {
    case .list:
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let now = Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
        print(SpoolQueueReport.heading)
        for m in messages { print(SpoolQueueReport.line(m, nowUnixMs: now)) }
        FileHandleStderr.write("\(messages.count) message(s), \(messages.reduce(0) { $0 + $1.fileBytes }) bytes\n")
    case .flush:
        // A running relay owns the state files (rewriting them from this snapshot would race its
        // deliveries): it only gets the marker. Without one, the state files say "due now" for
        // the next start, which makes everything due anyway.
        if !spool.isInUse() {
            for var m in messages where m.progress.nextAttemptUnixMs != 0 {
                m.progress.nextAttemptUnixMs = 0
                spool.writeProgress(m.progress, id: m.id)
            }
        }
        guard spool.touchFlushMarker() else { fail("queue: cannot write \(spool.flushMarkerPath): \(errnoName(errno))", code: 1) }
        print("\(messages.count) message(s) due now")
    case .delete(let id):
        guard spool.remove(id: id) else { fail("queue: no message \(id) in \(spool.queuePath)", code: 1) }
        _ = spool.touchDeleteMarker()
        print("deleted \(id)")
    }
    exit(0)
}

func runRTSP(_ args: [String]) -> Never {
    let config: RTSPRelayConfig
    do {
        config = try RTSPRelayCommand.parse(args)
    } catch .helpRequested {
        print(RTSPRelayCommand.parser.helpText, terminator: "")
        exit(0)
    } catch {
        fail("\(error)", code: 2)
    }
    let mode: RTSPMode
    do { mode = try RTSPMode.make(config) } catch { fail("\(error)", code: 1) }
    serve(RTSPRelayServer(mode: mode)) { s in
        "\(s.connectionsAcceptedTotal) connections, \(s.packetsDeliveredTotal) packets delivered, \(s.readersDroppedTotal) slow readers dropped, \(s.upstreamConnectFailuresTotal) source connect failures"
    }
}

/// Starts the relay, logs its banner, drains on the first SIGINT/SIGTERM and exits.
func serve<Mode: RelayMode>(_ server: RelayServer<Mode>, summary: (RelayCounters.Snapshot) -> String) -> Never {
    // Signals are taken by a dedicated thread with sigwait: workers inherit the blocked mask,
    // so no handler ever runs on a worker mid-operation.
    let signals = SignalWaiter(signals: [SIGINT, SIGTERM])
    let info: RelayServer<Mode>.StartInfo
    do {
        info = try server.start()
    } catch {
        fail("\(error)", code: 1)
    }
    Log.info(info.banner)
    let drainMs = server.config.drainTimeoutMs
    signals.onSignal { signal, count in
        if count == 1 {
            Log.info("signal \(signal): no longer accepting; draining open connections (up to \(drainMs) ms)")
            server.requestStop()
        } else {
            Log.warning("signal \(signal) again: exiting without waiting")
            exit(1)
        }
    }
    server.waitUntilStopped()
    Log.info("stopped: " + summary(server.counters.snapshot()))
    exit(server.hasFailed ? 1 : 0)
}
