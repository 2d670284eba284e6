import Glibc

/// `--syscalls`: wraps one workload run in a SyscallCounter on the relay, and says once (not
/// per run) when counting is impossible, so the figures are simply absent then.
final class SyscallCounting {
    let enabled: Bool
    private let cpu: Int?
    private var warned = false

    init(enabled: Bool, cpu: Int?) {
        self.enabled = enabled
        self.cpu = cpu
    }

    /// Runs `body`; with counting on, also the relay's syscalls during it (nil if not counted).
    func around<T>(_ relayPid: pid_t, _ body: () -> T) -> (T, UInt64?) {
        guard enabled else { return (body(), nil) }
        let counter: SyscallCounter
        do { counter = try SyscallCounter.start(target: relayPid, cpu: cpu) } catch {
            if !warned { Console.err("relay-bench --syscalls: cannot count: \(error.message)"); warned = true }
            return (body(), nil)
        }
        let result = body()
        return (result, counter.stop())
    }
}

extension SyscallCounting {
    /// "relay syscalls per <unit>" and "per MiB" over the counted span, whose work was
    /// `messages` messages (nil: not message-based) and `bytes` bytes relayed.
    static func metrics(_ count: UInt64?, messages: Int?, unit: String, bytes: Double) -> [Metric] {
        guard let count else { return [] }
        var out: [Metric] = []
        if let messages, messages > 0 {
            out.append(Metric(key: "relay_syscalls_per_\(unit)", label: "relay syscalls per \(unit)", value: Double(count) / Double(messages), decimals: 2))
        }
        if bytes > 0 {
            out.append(Metric(key: "relay_syscalls_per_mib", label: "relay syscalls per MiB", value: Double(count) / (bytes / 1_048_576), decimals: 1))
        }
        return out
    }
}
