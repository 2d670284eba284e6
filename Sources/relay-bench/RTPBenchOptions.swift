import UringRelay

/// The rtp scenario's own flags.
struct RTPBenchOptions {
    var receivers: [Int] = []
    var packetRate: Int?
    var packetBytes: Int?

    static let specs = [
        FlagSpec("receivers", value: "N", help: "receivers the relay fans out to", repeatable: true,
                 default: "1, 10 and 100 with --quick, else 1, 10, 100 and 1000"),
        FlagSpec("packet-rate", value: "N", help: "RTP packets/s from the source, for every receiver count", default: "per receiver count, see README"),
        FlagSpec("packet-size", value: "BYTES", help: "RTP packet size including its 12-byte header", default: "1200"),
    ]

    static func parse(_ f: ParsedFlags) throws(UsageError) -> RTPBenchOptions {
        var o = RTPBenchOptions()
        for text in try f.strings("receivers") {
            let one = ParsedFlags(values: ["receivers": [text]])
            o.receivers.append(try one.int("receivers", default: 1, range: 1...4096))
        }
        if f.values["packet-rate"] != nil { o.packetRate = try f.int("packet-rate", default: 0, range: 1...1_000_000) }
        if f.values["packet-size"] != nil {
            o.packetBytes = try f.bytes("packet-size", default: 1200, range: RTPBenchPacket.minimumBytes...2000)
        }
        return o
    }
}
