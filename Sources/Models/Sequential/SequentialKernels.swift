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
                        for i in 0..<inner { p[i] = p[i] * a + b }
                        activate(p, inner, act)
                    }
                }
            }
        }
    }

    /// `x ← act(x)` on an owned contiguous f32 tensor.
    static func activationInPlace(_ x: Tensor, _ act: Activation) {
        let data = x.mutableFloats.baseAddress!
        Parallel.forRanges(x.elementCount, minChunk: 1 << 15) { r in activate(data + r.lowerBound, r.count, act) }
    }

    /// `p[i] ← act(p[i])` for `count` values on the calling thread (tanh on the engine's vector kernel).
    private static func activate(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ act: Activation) {
        switch act {
        case .relu: for i in 0..<count { let v = p[i]; p[i] = v > 0 ? v : 0 }
        case .leakyRelu(let s): for i in 0..<count { let v = p[i]; p[i] = v >= 0 ? v : v * s }
        case .tanh: tanhRow(p, p, count)
        default: for i in 0..<count { p[i] = act.apply(p[i]) }
        }
    }
}
