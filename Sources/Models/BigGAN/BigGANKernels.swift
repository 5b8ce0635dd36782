import Engine
import TensorStore

/// Small fused loops the BigGAN families need and the engine has no op for: batch norm with per-sample gains and
/// biases (class-conditional BN).
enum BigGANKernels {
    /// `relu((x − mean[c]) · invStd[c] · gain[n, c] + bias[n, c])` over an NCHW tensor (both BigGANs follow
    /// every conditional norm with a ReLU).
    /// `gain`/`bias` hold N·C values (row-major `[N, C]`), or C values shared by every sample.
    /// `inPlace`: overwrite `x` (an owned contiguous f32 buffer the caller just produced) instead of allocating.
    static func conditionalNorm(_ x: Tensor, mean: [Float], invStd: [Float],
                                gain: [Float], bias: [Float], inPlace: Bool = false) throws -> Tensor {
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
        let writable = inPlace && src.dtype == .f32 && src.isContiguous && src.storage.isWritable
        let out = writable ? src : try Tensor(storage: Storage.uninitialized(byteCount: x.elementCount * 4), dtype: .f32, shape: x.shape)
        let inBase = (src.storage.bytes.baseAddress! + src.offset * 4).assumingMemoryBound(to: Float.self)
        let outBase = out.mutableFloats.baseAddress!
        scale.withUnsafeBufferPointer { sc in
            shift.withUnsafeBufferPointer { sh in
                Parallel.forRanges(n * c, minChunk: max(1, 16384 / max(plane, 1))) { range in
                    for p in range {
                        let a = sc[p], b = sh[p]
                        let i = inBase + p * plane, o = outBase + p * plane
                        for k in 0..<plane { o[k] = max(i[k] * a + b, 0) }
                    }
                }
            }
        }
        withExtendedLifetime(src) {}
        return out
    }

    /// `x += skip` in place on `x` (an owned buffer the caller just produced), where `skip` is the residual input
    /// cut to its first `x.C` channels (the channel drop) and, with `upsample`, nearest-upsampled ×2 — the same
    /// additions as `Ops.add(x, upsampleNearest(slice(skip)))` without materialising the skip path.
    static func addSkip(into x: Tensor, skip: Tensor, upsample: Bool) throws {
        guard x.rank == 4, skip.rank == 4 else { throw ModelError("residual add expects NCHW, got \(x.shape) and \(skip.shape)") }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let f = upsample ? 2 : 1
        guard skip.shape[0] == n, skip.shape[1] >= c, skip.shape[2] * f == h, skip.shape[3] * f == w else {
            throw ModelError("residual \(skip.shape) does not fit the block output \(x.shape)")
        }
        let sc = skip.shape[1], sh = skip.shape[2], sw = skip.shape[3]
        let dst = x.mutableFloats.baseAddress!
        let s = skip.toFloat32()
        s.withFloats { sp in
            let src = sp.baseAddress!
            Parallel.forRanges(n * c * h, minChunk: max(1, 16384 / max(w, 1))) { r in
                for row in r {
                    let y = row % h, plane = row / h
                    let b = plane / c, ch = plane % c
                    let d = dst + row * w
                    let srow = src + ((b * sc + ch) * sh + y / f) * sw
                    if f == 1 {
                        for i in 0..<w { d[i] = d[i] + srow[i] }
                    } else {
                        for i in 0..<w { d[i] = d[i] + srow[i >> 1] }
                    }
                }
            }
        }
    }

    /// `x ← residual + x·gamma` in place on `x` (the attention output): `Ops.add(residual, Ops.scale(x, gamma))`.
    static func scaledResidual(into x: Tensor, residual: Tensor, gamma: Float) throws {
        guard x.shape == residual.shape else { throw ModelError("attention output \(x.shape) does not match its input \(residual.shape)") }
        let dst = x.mutableFloats.baseAddress!
        residual.toFloat32().withFloats { rp in
            let r0 = rp.baseAddress!
            Parallel.forRanges(x.elementCount, minChunk: 1 << 15) { r in
                for i in r { dst[i] = r0[i] + dst[i] * gamma }
            }
        }
    }

    /// `1/√(var + eps)` per channel (batch norm's inverse standard deviation, in float32 as PyTorch computes it).
    static func inverseStd(_ variance: [Float], eps: Float) -> [Float] {
        variance.map { 1 / ($0 + eps).squareRoot() }
    }
}
