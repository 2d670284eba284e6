/// One column of the tables: uring-relay with one engine (a fresh child per round and phase)
/// or an external relay that is already running.
enum BenchTarget {
    case engine(String)
    case external(ExternalRelay)

    var name: String {
        switch self {
        case .engine(let e): return e
        case .external(let x): return x.name
        }
    }

    /// The relay for one round: uring-relay started with `mode` and `arguments` pinned to `cpu`,
    /// or the external relay attached (its pinning is the caller's: compare.sh uses taskset).
    func start(relayPath: String, mode: String, arguments: [String], cpu: Int?) throws(RelayLaunchError) -> RelayProcess {
        switch self {
        case .engine(let e):
            return try RelayProcess.start(path: relayPath, mode: mode, engine: e, arguments: arguments, cpu: cpu)
        case .external(let x):
            return try RelayProcess.attach(x)
        }
    }
}
