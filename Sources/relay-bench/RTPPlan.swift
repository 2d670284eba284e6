/// Workload sizes of the rtp scenario, with what the command line changed.
struct RTPPlan {
    /// One fan-out size and the source's packet rate for it: the rate falls as receivers grow
    /// so that receivers × rate (the datagrams the relay sends, and the load CPU receives,
    /// each second) stays within what one core on each side can do.
    struct Step {
        var receivers: Int
        var packetRate: Int
    }

    var steps: [Step]
    var packetBytes: Int
    var warmupNs: UInt64
    var durationNs: UInt64

    static let quick = RTPPlan(steps: [Step(receivers: 1, packetRate: 2000), Step(receivers: 10, packetRate: 2000),
                                       Step(receivers: 100, packetRate: 500)],
                               packetBytes: 1200, warmupNs: 250_000_000, durationNs: 1_000_000_000)
    static let full = RTPPlan(steps: [Step(receivers: 1, packetRate: 10_000), Step(receivers: 10, packetRate: 5000),
                                      Step(receivers: 100, packetRate: 1000), Step(receivers: 1000, packetRate: 100)],
                              packetBytes: 1200, warmupNs: 1_000_000_000, durationNs: 5_000_000_000)

    /// Receive buffer per receiver socket: room for ~50 ms of its stream at the plan's rates
    /// (the load CPU also runs the sender and the other receivers), less per socket when
    /// there are many.
    static func receiveBufferBytes(receivers: Int) -> Int32 {
        receivers <= 10 ? 4 << 20 : receivers <= 100 ? 1 << 20 : 256 << 10
    }
}
