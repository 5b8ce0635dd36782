import Engine
import TensorStore

/// Transposed convolutions of a batch of small planes (DCGAN's 1×1 → 4×4 → 8×8 → 16×16 stack) as a few wide
/// GEMMs instead of one narrow GEMM per sample: the engine's `convTranspose2d` multiplies `Wᵀ·x` sample by
/// sample, so at 4×4 (16 columns) it spends its time re-packing the whole weight for every sample.
///
/// - A 1×1 input without padding is a plain matrix product: `out[n, (o,ky,kx)] = Σ_i x[n,i]·W[i,(o,ky,kx)]`.
/// - Otherwise samples are stacked vertically with `g` zero rows between them, so that no sample's outputs
///   reach another's window, and the stack goes through the engine op once; each sample's rows are then copied
///   out. Same sums per output element as the per-sample op.
enum BatchedConvTranspose {
    /// Planes up to this many pixels are batched (larger ones already give the GEMM enough columns).
    static let maxPlane = 64
    /// Columns per stacked GEMM and the bound on its column buffer (floats), which set the chunk size.
    static let targetColumns = 2048
    static let maxColumnBuffer = 16 << 20

    /// The batched result, or nil when the engine's per-sample op is the right tool (one sample, large planes,
    /// geometries the stacking does not cover).
    static func apply(_ x: Tensor, weight: Tensor, bias: Tensor?, stride s: Int, padding p: Padding2D,
                      outputPadding op: Int) throws -> Tensor? {
        guard x.rank == 4, weight.rank == 4 else { return nil }
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (wcin, cout, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        guard n > 1, wcin == cin, s >= 1, op >= 0, op < s else { return nil }
        if h == 1 && w == 1 && p == .zero && op == 0 {
            // [N, Cin] · [Cin, Cout·kh·kw]; the engine's output starts from the bias, so add it the same way.
            var y = try Ops.matmul(x.reshaped([n, cin]), weight.reshaped([cin, cout * kh * kw])).reshaped([n, cout, kh, kw])
            if let bias { y = try Ops.biasAct(y, bias: bias, dim: 1, activation: .linear, gain: 1) }
            return y
        }
        guard h * w <= maxPlane, p.top >= 0, p.bottom >= 0, p.left >= 0, p.right >= 0 else { return nil }
        // Padding that crops the stack's bottom so it is exactly n blocks of (h + g)·s rows.
        let bottom = kh - s - p.top
        guard bottom >= 0 else { return nil }
        // Zero rows between samples: sample b+1 must start after sample b's window ends, and sample b−1's last
        // contribution must end before sample b's window starts.
        let gapAfter = max(0, (kh - s - p.bottom + op + s - 1) / s)
        let gapBefore = kh - 1 - p.top - s >= 0 ? (kh - 1 - p.top - s) / s + 1 : 0
        let g = max(gapAfter, gapBefore)
        let hb = h + g
        let outH = (h - 1) * s - p.top - p.bottom + kh + op
        let outW = (w - 1) * s - p.left - p.right + kw + op
        guard outH > 0, outW > 0, outH <= hb * s else { return nil }
        let rows = cout * kh * kw
        let chunk = min(n, max(1, targetColumns / (hb * w)), max(1, maxColumnBuffer / max(rows * hb * w, 1)))
        guard chunk > 1 else { return nil }

        let src = x.toFloat32()
        let out = try Tensor(storage: Storage.uninitialized(byteCount: n * cout * outH * outW * 4), dtype: .f32,
                             shape: [n, cout, outH, outW])
        let dst = out.mutableFloats.baseAddress!
        let plane = h * w, block = hb * w
        var start = 0
        while start < n {
            let nb = min(chunk, n - start)
            // [1, Cin, nb·(h+g), W]: channel c holds the samples' planes one under the other, zero rows between.
            let stacked = try Tensor(storage: Storage.uninitialized(byteCount: cin * nb * block * 4), dtype: .f32,
                                     shape: [1, cin, nb * hb, w])
            let sp = stacked.mutableFloats.baseAddress!
            src.withFloats { xp in
                let xb = xp.baseAddress!
                Parallel.forRanges(cin * nb, minChunk: 64) { r in
                    for item in r {
                        let c = item / nb, b = item % nb
                        let d = sp + item * block
                        d.update(from: xb + ((start + b) * cin + c) * plane, count: plane)
                        (d + plane).initialize(repeating: 0, count: block - plane)
                    }
                }
            }
            let y = try Ops.convTranspose2d(stacked, weight: weight, bias: bias, stride: Size2(s),
                                            padding: Padding2D(top: p.top, bottom: bottom, left: p.left, right: p.right),
                                            outputPadding: Size2(0, op))
            // y: [1, Cout, nb·(h+g)·s, outW]; sample b's window is rows [b·(h+g)·s, +outH) of each channel.
            let stackRows = nb * hb * s
            y.withFloats { yp in
                let yb = yp.baseAddress!
                Parallel.forRanges(nb * cout, minChunk: 64) { r in
                    for item in r {
                        let b = item / cout, c = item % cout
                        (dst + ((start + b) * cout + c) * outH * outW)
                            .update(from: yb + (c * stackRows + b * hb * s) * outW, count: outH * outW)
                    }
                }
            }
            start += nb
        }
        return out
    }
}
