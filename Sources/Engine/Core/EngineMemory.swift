#if canImport(Glibc)
import Glibc
#endif
import CEngineKernels

/// Process memory policy for engine workloads.
///
/// glibc serves allocations above 32 MB (the most its dynamic threshold reaches) with a fresh `mmap` and
/// unmaps them on free, so every large activation of a forward pass is page-faulted in again — about 2 GB/s
/// in a VM, slower than the ops themselves. Serving them from the heap and keeping freed memory (up to 1 GB
/// at the top) lets the next op reuse already-mapped pages. Applied once, when the engine first runs an op;
/// `GANKIT_ENGINE_MALLOC=0` leaves glibc's defaults alone.
enum EngineMemory {
    static func configure() {
        #if canImport(Glibc)
        if let v = getenv("GANKIT_ENGINE_MALLOC"), String(cString: v) == "0" { return }
        ek_keep_freed_memory()
        #endif
    }
}
