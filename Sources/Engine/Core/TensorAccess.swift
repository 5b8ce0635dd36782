import TensorStore

extension Tensor {
    /// A new contiguous f32 tensor whose contents the caller will overwrite completely (no zero-fill pass).
    @usableFromInline
    static func uninitializedF32(_ shape: [Int]) -> Tensor {
        _ = BLASThreading.pinned   // engine process setup (BLAS threads, malloc policy) before the first output
        let n = shape.reduce(1, *)
        let storage = Storage.uninitialized(byteCount: n * 4)
        return (try? Tensor(storage: storage, dtype: .f32, shape: shape)) ?? Tensor(zeros: shape)
    }

    /// Base pointer of a contiguous f32 tensor in owned memory (engine outputs). The caller keeps `self` alive.
    @usableFromInline
    var mutableBase: UnsafeMutablePointer<Float> {
        (storage.mutableBytes.baseAddress! + offset * 4).assumingMemoryBound(to: Float.self)
    }

    /// Base pointer of a contiguous f32 tensor (mapped or owned). The caller keeps `self` alive.
    @usableFromInline
    var readBase: UnsafePointer<Float> {
        UnsafePointer((UnsafeMutableRawPointer(mutating: storage.bytes.baseAddress!) + offset * 4)
            .assumingMemoryBound(to: Float.self))
    }
}

/// Inputs of ops: converted once to contiguous f32 (zero-copy when they already are) and kept alive while the
/// op reads them through `base`.
@usableFromInline
struct Input {
    @usableFromInline let tensor: Tensor
    @usableFromInline let base: UnsafePointer<Float>
    @usableFromInline var shape: [Int] { tensor.shape }
    @usableFromInline var count: Int { tensor.elementCount }

    @usableFromInline
    init(_ t: Tensor) {
        let c = t.toFloat32()
        self.tensor = c
        if c.storage.bytes.baseAddress == nil {
            // Zero-byte storage (empty tensor): point at a static dummy so loops that run zero times are safe.
            self.base = UnsafePointer(Input.dummy)
        } else {
            self.base = c.readBase
        }
    }

    nonisolated(unsafe) static let dummy = UnsafeMutablePointer<Float>.allocate(capacity: 16)

    @usableFromInline subscript(i: Int) -> Float { base[i] }
}

/// Keeps tensors alive until the end of a scope: `defer { keepAlive(a, b) }`.
@inline(never) @usableFromInline
func keepAlive(_ items: Any...) { withExtendedLifetime(items) {} }

// Shape checks used by every op: they throw EngineError with the op's name.
@usableFromInline
func require(_ condition: Bool, _ op: String, _ message: @autoclosure () -> String) throws(EngineError) {
    if !condition { throw EngineError(op, message()) }
}

@usableFromInline
func requireRank(_ t: Tensor, _ rank: Int, _ op: String, _ name: String) throws(EngineError) {
    if t.rank != rank { throw EngineError(op, "\(name) must have rank \(rank), got shape \(t.shape)") }
}

/// The number of output positions of a strided window: (in + padTotal − dilation·(k−1) − 1) / stride + 1.
@usableFromInline
func windowCount(_ input: Int, padTotal: Int, kernel: Int, stride: Int, dilation: Int) -> Int {
    let span = dilation * (kernel - 1) + 1
    let avail = input + padTotal - span
    return avail < 0 ? 0 : avail / stride + 1
}
