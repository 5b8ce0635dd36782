import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Reusable scratch memory for hot loops (im2col columns, padded rows, per-plane FIR intermediates).
///
/// Buffers are kept in a process-wide free list and grow to the largest size asked for, so a model's forward
/// pass allocates them once and then only borrows. Borrowing is thread-safe; each borrower has its buffer to
/// itself until the closure returns.
public enum Scratch {
    final class Buffer: @unchecked Sendable {
        var pointer: UnsafeMutablePointer<Float>
        var capacity: Int
        init(capacity: Int) {
            self.capacity = max(capacity, 16)
            self.pointer = Scratch.allocate(self.capacity)
        }
        func ensure(_ count: Int) {
            if count <= capacity { return }
            free(pointer)
            capacity = max(count, capacity * 3 / 2)
            pointer = Scratch.allocate(capacity)
        }
        deinit { free(pointer) }
    }

    static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        var p: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&p, 64, count * MemoryLayout<Float>.stride) == 0, let p else {
            fatalError("engine scratch: out of memory for \(count) floats")
        }
        return p.bindMemory(to: Float.self, capacity: count)
    }

    static let pool = Mutex<[Buffer]>([])

    /// Lends an uninitialised buffer of at least `count` floats to `body`.
    public static func withBuffer<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let buffer: Buffer = pool.withLock { list in
            // Prefer the smallest buffer that already fits, else the largest (it grows least).
            if let i = list.indices.filter({ list[$0].capacity >= count }).min(by: { list[$0].capacity < list[$1].capacity }) {
                return list.remove(at: i)
            }
            if let i = list.indices.max(by: { list[$0].capacity < list[$1].capacity }) { return list.remove(at: i) }
            return Buffer(capacity: count)
        }
        buffer.ensure(count)
        defer { pool.withLock { $0.append(buffer) } }
        return try body(buffer.pointer)
    }

    /// Frees every pooled buffer and every kept packed weight (`PackedWeights`), e.g. after a large model ran
    /// and memory should go back to the system. (Packed weights of parameters that were freed go at the next
    /// weight packed anyway.)
    public static func releaseAll() {
        pool.withLock { $0.removeAll() }
        PackedWeights.shared.removeAll()
    }
}
