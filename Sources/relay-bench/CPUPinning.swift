import CURing
import Glibc

/// Thread affinity. sched_setaffinity and cpu_set_t are not usable from Swift's Glibc module,
/// so the calling thread is pinned through CURing's pthread_setaffinity_np wrapper; a child
/// process is pinned by spawning it from a thread pinned to the child's CPU (the affinity
/// mask is inherited across fork/exec).
enum CPUPinning {
    /// Pins the calling thread; nil cpu does nothing. Returns false if the kernel refused.
    @discardableResult
    static func pinCurrentThread(_ cpu: Int?) -> Bool {
        guard let cpu else { return true }
        return curing_pin_thread_to_cpu(Int32(cpu)) == 0
    }
}
