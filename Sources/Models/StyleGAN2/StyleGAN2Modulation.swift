import Engine
import TensorStore

/// The weight side of a StyleGAN2 modulated 3×3 conv with what does not depend on the styles computed once at
/// load time: `Σ_k W[o,i,k]²` for the demodulation, and for up-convs the weight already in the transposed
/// conv's `[I, O, kh, kw]` layout. Produces the same numbers as `Ops.modulatedWeights` (same float operations in
/// the same order), without redoing that per call.
struct StyleGAN2Modulation {
    let outChannels: Int
    let inChannels: Int
    let taps: Int
    /// `[O, I, kh, kw]` (normal) or `[I, O, kh, kw]` (transposed, for the up path).
    let weight: Tensor
    let transposed: Bool
    /// `Σ_k W[o,i,k]²`, row-major `[O, I]`.
    let squaredNorms: [Float]

    init(weight w: Tensor, transposed: Bool) throws {
        let (o, i) = (w.shape[0], w.shape[1])
        let taps = w.shape[2] * w.shape[3]
        outChannels = o
        inChannels = i
        self.taps = taps
        self.transposed = transposed
        squaredNorms = try Ops.squaredKernelNorms(weight: w)
        weight = transposed ? try Ops.permute(w, [1, 0, 2, 3]).toFloat32() : w.toFloat32()
    }

    /// Per-sample weights `W[o,i,k]·s[n,i]·d[n,o]`: `[N·O, I, kh, kw]` for the grouped conv (the engine's
    /// `modulatedWeights`, given the norms), or (transposed) `[N·I, O, kh, kw]` for the grouped transposed conv.
    func modulated(styles: Tensor, demodulate: Bool = true) throws -> Tensor {
        let (o, i, k2) = (outChannels, inChannels, taps)
        guard styles.rank == 2, styles.shape[1] == i else {
            throw ModelError("styles \(styles.shape) do not have \(i) channels")
        }
        guard transposed else {
            return try Ops.modulatedWeights(weight: weight, styles: styles, demodulate: demodulate,
                                            squaredNorms: squaredNorms)
        }
        let n = styles.shape[0]
        let kh = weight.shape[2], kw = weight.shape[3]
        let out = try Tensor(storage: Storage.uninitialized(byteCount: n * o * i * k2 * 4), dtype: .f32,
                             shape: [n * i, o, kh, kw])
        let dst = out.mutableFloats.baseAddress!
        let s = styles.toFloat32()
        s.withFloats { sp in
            let sb = sp.baseAddress!
            let d = demodulate
                ? Ops.demodulationCoefficients(squaredNorms: squaredNorms, outChannels: o, styles: sb, batch: n)
                : [Float](repeating: 1, count: n * o)
            weight.withFloats { wp in
                let w = wp.baseAddress!
                d.withUnsafeBufferPointer { dp in
                    // dst[n, i, o, k] = Wt[i, o, k]·s[n, i]·d[n, o]
                    Parallel.forRanges(n * i, minChunk: 8) { r in
                        for row in r {
                            let b = row / i, ic = row % i
                            let sv = sb[b * i + ic]
                            for oc in 0..<o {
                                let dv = dp[b * o + oc]
                                let src = w + (ic * o + oc) * k2, dd = dst + (row * o + oc) * k2
                                for t in 0..<k2 { dd[t] = src[t] * sv * dv }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

enum StyleGAN2Kernels {
    /// In place on a fresh conv output `[N, C, H, W]`: `x + noise[h, w]`, then NVlabs `bias_act` with lrelu —
    /// `clamp((v + b[c] ≥ 0 ? v + b[c] : 0.2·(v + b[c]))·gain, ±clamp)` — in one pass (the same float operations
    /// as `Ops.add` followed by `Ops.biasAct`).
    static func addNoiseBiasLReLU(_ x: Tensor, noise: Tensor, bias: Tensor, gain: Float, clamp: Float?) throws {
        guard x.rank == 4 else { throw ModelError("expected an NCHW activation, got \(x.shape)") }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let plane = h * w
        guard noise.elementCount == plane, bias.elementCount == c else {
            throw ModelError("noise \(noise.shape) / bias \(bias.shape) do not fit the activation \(x.shape)")
        }
        let limit = (clamp ?? -1) >= 0 ? clamp! : Float.infinity  // a negative clamp means none, as in bias_act
        let lo = -limit, hi = limit
        let data = x.mutableFloats.baseAddress!
        noise.withFloats { np in
            bias.withFloats { bp in
                let nz = np.baseAddress!, bs = bp.baseAddress!
                Parallel.forRanges(n * c, minChunk: max(1, 16384 / max(plane, 1))) { r in
                    for row in r {
                        let b = bs[row % c]
                        let p = data + row * plane
                        for k in 0..<plane {
                            let v = (p[k] + nz[k]) + b
                            p[k] = min(max((v >= 0 ? v : v * 0.2) * gain, lo), hi)
                        }
                    }
                }
            }
        }
    }
}
