import Glibc

/// Result of posix_spawn made on a helper thread.
final class SpawnOutcome: @unchecked Sendable {
    // @unchecked: written only by the spawning thread before it ends, read only after join()
    // (pthread_join orders the accesses).
    var pid: pid_t = 0
    var rc: Int32 = 0
}
