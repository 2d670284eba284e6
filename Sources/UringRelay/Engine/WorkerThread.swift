import CURing
import Glibc

/// A plain pthread running one closure: workers run a blocking loop on their own thread
/// (no Swift concurrency on the hot path), and the owner joins them at shutdown.
public final class WorkerThread: @unchecked Sendable {
    // @unchecked: `thread` is written once in init before the thread can observe it and read
    // only by join() on the owning thread.
    private var thread: pthread_t = 0
    private let body: @Sendable () -> Void

    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        self.body = { curing_set_thread_name(name); body() }
        let box = Unmanaged.passRetained(self)
        let rc = pthread_create(&thread, nil, { raw in
            let me = Unmanaged<WorkerThread>.fromOpaque(raw!).takeRetainedValue()
            me.body()
            return nil
        }, box.toOpaque())
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }

    public func join() {
        pthread_join(thread, nil)
    }
}
