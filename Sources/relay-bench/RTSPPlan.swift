import UringRelay

/// Workload sizes of the rtsp scenario, with what the command line changed.
struct RTSPPlan {
    /// One run: readers over one transport, at one stream bitrate.
    struct Step: Equatable {
        var transport: RTSPTransport.LowerTransport
        var readers: Int
        var megabitsPerSecond: Int
    }

    var steps: [Step]
    /// The publisher alone before readers join: 1.5 GOPs, so they join between keyframes.
    var warmupNs: UInt64
    /// After the last reader's PLAY, before the window (catch-up bursts from the keyframe cache).
    var settleNs: UInt64
    var durationNs: UInt64

    static func steps(_ readers: [Int], megabitsPerSecond: Int) -> [Step] {
        [RTSPTransport.LowerTransport.tcp, .udp].flatMap { t in readers.map { Step(transport: t, readers: $0, megabitsPerSecond: megabitsPerSecond) } }
    }

    /// Both transports at 10 readers: about 45 s for two engines and two rounds.
    static let quick = RTSPPlan(steps: steps([10], megabitsPerSecond: 2),
                                warmupNs: 1_500_000_000, settleNs: 500_000_000, durationNs: 3_000_000_000)
    /// Readers × bitrate stays within what the load CPU can check: 2 Gbit/s at the most.
    static let full = RTSPPlan(steps: steps([1, 10, 100, 1000], megabitsPerSecond: 2) + steps([1, 10, 100], megabitsPerSecond: 8),
                               warmupNs: 1_500_000_000, settleNs: 1_000_000_000, durationNs: 10_000_000_000)

    func stream(_ step: Step) -> RTSPBenchStream { RTSPBenchStream(bitsPerSecond: step.megabitsPerSecond * 1_000_000) }
}
