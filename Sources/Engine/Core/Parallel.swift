import CWorkerPool
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Splits loops across the machine's cores on the engine's worker pool (`CWorkerPool`).
///
/// Used for the engine's own loops (im2col, FIR filters, norms, activations) and to cut GEMMs into one
/// single-threaded piece per core (`blockedSgemm`). The pool's workers spin briefly between loops: waking a
/// sleeping thread takes ~60–80 µs on a VM, which `DispatchQueue.concurrentPerform` paid on almost every op
/// (a loop of two 27 µs halves took 60 µs, 95% of the time all on the caller). `GANKIT_POOL=dispatch` goes back
/// to `concurrentPerform`, for comparisons.
public enum Parallel {
    /// Worker count: online processors (at least 1).
    public static let coreCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Calls `body(i)` for every `i` in `0..<count`, spread over the cores. Runs inline when `count` is 1
    /// or the machine has one core.
    @inlinable
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        if count == 1 || coreCount == 1 {
            for i in 0..<count { body(i) }
            return
        }
        runOnPool(count, body)
    }

    /// Whether loops run on the worker pool (else on `concurrentPerform`, with `GANKIT_POOL=dispatch`).
    static let usesWorkerPool: Bool = {
        if let v = getenv("GANKIT_POOL"), String(cString: v) == "dispatch" { return false }
        return true
    }()

    @usableFromInline
    static func runOnPool(_ count: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { b in
            guard usesWorkerPool else {
                // The body only touches memory partitioned by index; the box tells the checker so.
                let box = UncheckedSendable(b)
                DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
                return
            }
            var body = b
            withUnsafeMutablePointer(to: &body) { pointer in
                wp_run(count, { context, index in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
                }, pointer)
            }
        }
    }

    /// Calls `body(range)` on contiguous ranges covering `0..<count`, about `coreCount × 4` ranges (for load
    /// balance on a shared machine) and never shorter than `minChunk` elements, so small jobs stay on one thread.
    @inlinable
    public static func forRanges(_ count: Int, minChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let chunks = max(1, min(coreCount * 4, count / max(minChunk, 1)))
        if chunks == 1 { body(0..<count); return }
        let size = (count + chunks - 1) / chunks
        forEach(chunks) { c in
            let lo = c * size
            let hi = min(count, lo + size)
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// Carries a non-Sendable value (a loop body over partitioned memory) into `concurrentPerform`.
@usableFromInline
struct UncheckedSendable<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @usableFromInline init(_ value: T) { self.value = value }
}
