import Engine
import TensorStore

/// Small fused loops the BigGAN families need and the engine has no op for: batch norm with per-sample gains and
/// biases (class-conditional BN).
enum BigGANKernels {
    /// `relu?((x − mean[c]) · invStd[c] · gain[n, c] + bias[n, c])` over an NCHW tensor.
    /// `gain`/`bias` hold N·C values (row-major `[N, C]`), or C values shared by every sample.
    static func conditionalNorm(_ x: Tensor, mean: [Float], invStd: [Float],
                                gain: [Float], bias: [Float], relu: Bool) throws -> Tensor {
        guard x.rank == 4 else { throw ModelError("conditional batch norm expects NCHW, got \(x.shape)") }
        let (n, c) = (x.shape[0], x.shape[1])
        let plane = x.shape[2] * x.shape[3]
        guard mean.count == c, invStd.count == c,
              gain.count == n * c || gain.count == c, bias.count == gain.count else {
            throw ModelError("conditional batch norm: statistics/gains do not fit the input \(x.shape)")
        }
        let perSample = gain.count == n * c
        var scale = [Float](repeating: 0, count: n * c), shift = [Float](repeating: 0, count: n * c)
        for s in 0..<n {
            for ch in 0..<c {
                let g = gain[perSample ? s * c + ch : ch], b = bias[perSample ? s * c + ch : ch]
                scale[s * c + ch] = invStd[ch] * g
                shift[s * c + ch] = b - mean[ch] * invStd[ch] * g
            }
        }
        let src = x.toFloat32()
        let storage = Storage.uninitialized(byteCount: x.elementCount * 4)
        let out = try Tensor(storage: storage, dtype: .f32, shape: x.shape)
        let inBase = (src.storage.bytes.baseAddress! + src.offset * 4).assumingMemoryBound(to: Float.self)
        let outBase = storage.mutableBytes.baseAddress!.assumingMemoryBound(to: Float.self)
        scale.withUnsafeBufferPointer { sc in
            shift.withUnsafeBufferPointer { sh in
                Parallel.forRanges(n * c, minChunk: max(1, 16384 / max(plane, 1))) { range in
                    for p in range {
                        let a = sc[p], b = sh[p]
                        let i = inBase + p * plane, o = outBase + p * plane
                        if relu {
                            for k in 0..<plane { o[k] = max(i[k] * a + b, 0) }
                        } else {
                            for k in 0..<plane { o[k] = i[k] * a + b }
                        }
                    }
                }
            }
        }
        withExtendedLifetime(src) {}
        return out
    }

    /// `1/√(var + eps)` per channel (batch norm's inverse standard deviation, in float32 as PyTorch computes it).
    static func inverseStd(_ variance: [Float], eps: Float) -> [Float] {
        variance.map { 1 / ($0 + eps).squareRoot() }
    }
}
