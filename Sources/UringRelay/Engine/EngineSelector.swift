/// Turns `--engine uring|epoll|auto` into the engine workers will build, probing io_uring
/// once up front so a failure is reported in one line before any thread starts.
public enum EngineSelector {
    public struct Selection: Sendable {
        public var kind: EngineKind
        /// For `auto` falling back: why io_uring was not used.
        public var fallbackReason: String?
    }

    public static func select(_ choice: EngineChoice) throws(EngineSetupError) -> Selection {
        switch choice {
        case .epoll:
            return Selection(kind: .epoll, fallbackReason: nil)
        case .uring:
            switch URingEngine.probe() {
            case .success: return Selection(kind: .uring, fallbackReason: nil)
            case .failure(let e): throw EngineSetupError(cause: "--engine uring: \(e.cause)")
            }
        case .auto:
            switch URingEngine.probe() {
            case .success: return Selection(kind: .uring, fallbackReason: nil)
            case .failure(let e): return Selection(kind: .epoll, fallbackReason: e.cause)
            }
        }
    }
}
