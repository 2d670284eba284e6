/// One measured value: `key` is the JSON name with its unit ("throughput_gbit_s"), `label` the
/// table row ("throughput (Gbit/s)"), `decimals` how many digits the table shows.
struct Metric {
    var key: String
    var label: String
    var value: Double
    var decimals: Int
}
