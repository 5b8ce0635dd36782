import Engine
import TensorStore

/// In-place elementwise passes for the sequential generator, used on activations it just produced (so nothing
/// else holds them): an inference batch norm folded into `x·α[c] + β[c]` with the following activation in the
/// same pass, and activations alone. The float operations are the engine's (`batchNorm` → `channelAffine`,
/// `activation`), so the results are the same; only the extra output buffers and passes go away.
enum SequentialKernels {
    /// `x ← act(x·scale[c] + shift[c])` over dim 1 of an owned contiguous f32 tensor.
    static func affineActivationInPlace(_ x: Tensor, scale: [Float], shift: [Float], activation act: Activation) throws {
        guard x.rank >= 2, scale.count == x.shape[1], shift.count == x.shape[1] else {
            throw ModelError("batch norm of \(scale.count) channels does not fit the activation \(x.shape)")
        }
        let c = x.shape[1]
        let inner = x.shape[2...].reduce(1, *)
        let data = x.mutableFloats.baseAddress!
        scale.withUnsafeBufferPointer { sc in
            shift.withUnsafeBufferPointer { sh in
                Parallel.forRanges(x.shape[0] * c, minChunk: max(1, 16384 / max(inner, 1))) { r in
                    for row in r {
                        let a = sc[row % c], b = sh[row % c]
                        let p = data + row * inner
                        switch act {
                        case .relu: for i in 0..<inner { let v = p[i] * a + b; p[i] = v > 0 ? v : 0 }
                        case .leakyRelu(let s): for i in 0..<inner { let v = p[i] * a + b; p[i] = v >= 0 ? v : v * s }
                        case .tanh:
                            for i in 0..<inner { p[i] = p[i] * a + b }
                            tanhRow(p, p, inner)
                        default: for i in 0..<inner { p[i] = act.apply(p[i] * a + b) }
                        }
                    }
                }
            }
        }
    }

    /// `x ← act(x)` on an owned contiguous f32 tensor.
    static func activationInPlace(_ x: Tensor, _ act: Activation) {
        let n = x.elementCount
        let data = x.mutableFloats.baseAddress!
        if act == .tanh { tanhParallel(data, data, n); return }
        Parallel.forRanges(n, minChunk: 1 << 15) { r in
            switch act {
            case .relu: for i in r { let v = data[i]; data[i] = v > 0 ? v : 0 }
            case .leakyRelu(let s): for i in r { let v = data[i]; data[i] = v >= 0 ? v : v * s }
            default: for i in r { data[i] = act.apply(data[i]) }
            }
        }
    }
}
