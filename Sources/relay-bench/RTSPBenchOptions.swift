import UringRelay

/// The rtsp scenario's own flags.
struct RTSPBenchOptions {
    var readers: [Int] = []
    var transports: [RTSPTransport.LowerTransport] = []
    var megabitsPerSecond: [Int] = []

    static let specs = [
        FlagSpec("readers", value: "N", help: "RTSP readers of the published stream", repeatable: true,
                 default: "10 with --quick, else 1, 10, 100, 1000 (2 Mbit/s) and 1, 10, 100 (8 Mbit/s)"),
        FlagSpec("transport", value: "T", help: "how readers get media: tcp (interleaved) or udp", repeatable: true, default: "tcp and udp"),
        FlagSpec("bitrate", value: "MBIT_S", help: "the published stream's bitrate in Mbit/s", repeatable: true, default: "per step, see above"),
    ]

    static func parse(_ f: ParsedFlags) throws(UsageError) -> RTSPBenchOptions {
        var o = RTSPBenchOptions()
        for text in try f.strings("readers") {
            o.readers.append(try ParsedFlags(values: ["readers": [text]]).int("readers", default: 1, range: 1...5000))
        }
        for text in try f.strings("transport") {
            guard let t: RTSPTransport.LowerTransport = text == "tcp" ? .tcp : text == "udp" ? .udp : nil else {
                throw .invalid("--transport must be tcp or udp, got \(text)")
            }
            if !o.transports.contains(t) { o.transports.append(t) }
        }
        for text in try f.strings("bitrate") {
            o.megabitsPerSecond.append(try ParsedFlags(values: ["bitrate": [text]]).int("bitrate", default: 2, range: 1...200))
        }
        return o
    }

    /// The plan's steps narrowed or replaced by these flags: the given readers × transports ×
    /// bitrates; what is not given comes from the plan.
    func apply(to plan: RTSPPlan) -> [RTSPPlan.Step] {
        var steps = plan.steps
        if !readers.isEmpty || !megabitsPerSecond.isEmpty {
            let counts = readers.isEmpty ? Array(Set(plan.steps.map(\.readers))).sorted() : readers
            let rates = megabitsPerSecond.isEmpty ? [plan.steps[0].megabitsPerSecond] : megabitsPerSecond
            steps = rates.flatMap { RTSPPlan.steps(counts, megabitsPerSecond: $0) }
        }
        if !transports.isEmpty { steps = steps.filter { transports.contains($0.transport) } }
        return steps
    }
}
