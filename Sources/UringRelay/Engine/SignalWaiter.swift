import Glibc

/// Blocks the given signals in the calling thread (and so in every thread it starts later)
/// and delivers them, with a running count, to a callback on a dedicated thread.
public final class SignalWaiter: Sendable {
    private let signals: [Int32]

    public init(signals: [Int32]) {
        self.signals = signals
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    public func onSignal(_ handler: @escaping @Sendable (Int32, Int) -> Void) {
        let signals = self.signals
        _ = WorkerThread(name: "signals") {
            var set = sigset_t()
            sigemptyset(&set)
            for s in signals { sigaddset(&set, s) }
            var count = 0
            while true {
                var received: Int32 = 0
                if sigwait(&set, &received) == 0 {
                    count += 1
                    handler(received, count)
                }
            }
        }
    }
}
