/// Which uring-relay mode carries the smtp scenario's sessions. `smtp` is the real thing; `tcp`
/// carries SMTP transparently (the sink greets the clients itself and no Received field is
/// added), as a baseline and for running the scenario where the smtp mode is not available.
enum SMTPRelayMode: String, CaseIterable {
    case smtp
    case tcp

    /// The hostname the smtp relay puts in its greeting and Received field.
    static let relayHostname = "relay.bench"

    /// `uring-relay MODE` and its flags besides --listen and --engine (RelayProcess adds those):
    /// one worker pinned to the relay CPU, relaying to the sink.
    func arguments(sinkPort: UInt16) -> [String] {
        let common = ["--upstream", "127.0.0.1:\(sinkPort)", "--threads", "1", "--pin"]
        switch self {
        case .smtp: return common + ["--hostname", Self.relayHostname]
        case .tcp: return common
        }
    }

    /// Received fields the sink must find in front of every message.
    var receivedFieldsAdded: Int {
        switch self {
        case .smtp: return 1
        case .tcp: return 0
        }
    }
}
