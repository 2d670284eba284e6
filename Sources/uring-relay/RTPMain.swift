import Glibc
import UringRelay

/// `uring-relay rtp`: parse, start, log the banner, run until SIGINT/SIGTERM.
func runRTP(_ args: [String]) -> Never {
    let config: RTPRelayConfig
    do {
        config = try RTPRelayCommand.parse(args)
    } catch .helpRequested {
        print(RTPRelayCommand.parser.helpText, terminator: "")
        exit(0)
    } catch {
        fail("\(error)", code: 2)
    }
    let signals = SignalWaiter(signals: [SIGINT, SIGTERM])
    let relay = RTPRelay(config: config)
    let info: RTPRelay.StartInfo
    do {
        info = try relay.start()
    } catch {
        fail("\(error)", code: 1)
    }
    Log.info(info.banner)
    signals.onSignal { signal, count in
        if count == 1 {
            Log.info("signal \(signal): stopping")
            relay.requestStop()
        } else {
            Log.warning("signal \(signal) again: exiting without waiting")
            exit(1)
        }
    }
    relay.waitUntilStopped()
    let s = relay.stats()
    let sent = s.destinations.reduce(0) { $0 + $1.rtpSent }
    let dropped = s.destinations.reduce(0) { $0 + $1.dropped }
    Log.info("stopped: \(s.rtpPackets) RTP packets in, \(sent) sent, \(dropped) dropped, \(s.nonRTP) non-RTP")
    exit(relay.hasFailed ? 1 : 0)
}
