/// A relay relay-bench did not start (haproxy, nginx, socat, Postfix, ...): where it listens and
/// the pid whose process tree's CPU time and memory are charged to it. It must already relay to
/// relay-bench's peer or sink (`--peer-port`, `--sink-port`); relay-bench neither starts nor stops it.
struct ExternalRelay {
    var name: String
    var port: UInt16
    var pid: Int32
}
