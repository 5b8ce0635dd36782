import TensorStore
import CEngineKernels

extension Ops {
    /// `torch.nn.functional.conv_transpose2d` (NCHW).
    ///
    /// - Parameters:
    ///   - x: `[N, Cin, H, W]`.
    ///   - weight: `[Cin, Cout/groups, kh, kw]` (PyTorch layout, used unflipped:
    ///     `out[o, s·y + ky·d − p, s·x + kx·d − p] += Σ_i x[i, y, x]·W[i, o, ky, kx]`).
    ///   - padding: removed from the full output, ≥ 0 (may be asymmetric; PyTorch's is symmetric).
    ///   - outputPadding: extra rows/columns at the bottom/right, < stride or < dilation as in PyTorch.
    /// - Returns: `[N, Cout, Ho, Wo]`, `Ho = (H−1)·sh − pt − pb + dh·(kh−1) + oph + 1`.
    ///
    /// Runs as a GEMM `Wᵀ·x` into a column buffer, then a scatter-add (col2im) split across cores by channel.
    /// Small input planes (DCGAN's first layers) are multiplied several samples at a time, side by side.
    public static func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2 = 1,
                                       padding: Padding2D = 0, outputPadding: Size2 = 0, dilation: Size2 = 1,
                                       groups: Int = 1) throws(EngineError) -> Tensor {
        let op = "conv_transpose2d"
        try requireRank(x, 4, op, "input")
        try requireRank(weight, 4, op, "weight")
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (wcin, cog, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        try require(groups >= 1 && cin % groups == 0, op, "groups \(groups) must divide input channels \(cin)")
        try require(wcin == cin, op, "weight \(weight.shape) expects \(wcin) input channels, input is \(x.shape)")
        try require(stride.h >= 1 && stride.w >= 1 && dilation.h >= 1 && dilation.w >= 1, op, "stride \(stride) and dilation \(dilation) must be ≥ 1")
        try require(padding.top >= 0 && padding.bottom >= 0 && padding.left >= 0 && padding.right >= 0, op, "negative padding \(padding)")
        try require(outputPadding.h >= 0 && outputPadding.w >= 0
                    && (outputPadding.h < stride.h || outputPadding.h < dilation.h)
                    && (outputPadding.w < stride.w || outputPadding.w < dilation.w), op,
                    "output padding \(outputPadding) must be smaller than stride \(stride) or dilation \(dilation)")
        let cout = cog * groups
        if let bias { try require(bias.elementCount == cout, op, "bias \(bias.shape) does not have \(cout) elements") }
        let outH = (h - 1) * stride.h - padding.top - padding.bottom + dilation.h * (kh - 1) + outputPadding.h + 1
        let outW = (w - 1) * stride.w - padding.left - padding.right + dilation.w * (kw - 1) + outputPadding.w + 1
        try require(outH > 0 && outW > 0, op, "padding \(padding) leaves no output for input \(h)×\(w)")
        let xi = Input(x), wi = Input(weight), bi = bias.map(Input.init)
        defer { keepAlive(xi, wi, bi as Any) }
        let out = Tensor.uninitializedF32([n, cout, outH, outW])
        let o = out.mutableBase
        let outPlane = outH * outW, inPlane = h * w
        let cig = cin / groups
        let rows = cog * kh * kw
        for b in 0..<n {
            for c in 0..<cout {
                (o + (b * cout + c) * outPlane).initialize(repeating: bi?.base[c] ?? 0, count: outPlane)
            }
        }
        _ = BLASThreading.pinned
        // Samples per GEMM: several when planes are small, keeping the column buffer within 8 M floats.
        let perGEMM = groups == 1 ? max(1, min(n, 1024 / max(inPlane, 1), (8 << 20) / max(rows * inPlane, 1))) : 1
        var b0 = 0
        while b0 < n {
            let nb = min(perGEMM, n - b0)
            for g in 0..<groups {
                let wg = wi.base + g * cig * rows
                let cols = nb * inPlane
                Scratch.withBuffer(rows * cols + (nb > 1 ? cig * cols : 0)) { buf in
                    let col = buf
                    var xg = UnsafePointer(xi.base + (b0 * cin + g * cig) * inPlane)
                    if nb > 1 {
                        // x as [Cin, nb·H·W]: the samples side by side.
                        let packed = buf + rows * cols
                        for s in 0..<nb {
                            for i in 0..<cig {
                                (packed + i * cols + s * inPlane).update(from: xi.base + ((b0 + s) * cin + g * cig + i) * inPlane, count: inPlane)
                            }
                        }
                        xg = UnsafePointer(packed)
                    }
                    // col[(co,ky,kx), p] = Σ_i W[i, (co,ky,kx)]·x[i, p]
                    parallelSgemm(transA: true, m: rows, n: cols, k: cig, a: wg, lda: rows, b: xg, ldb: cols,
                                  c: col, ldc: cols)
                    let colC = UnsafePointer(col)
                    let chunk = max(1, cog / max(1, Parallel.coreCount * 4 / nb))
                    let perSample = (cog + chunk - 1) / chunk
                    Parallel.forEach(nb * perSample) { t in
                        let s = t / perSample, c0 = (t % perSample) * chunk, c1 = min(cog, c0 + chunk)
                        if c0 >= c1 { return }
                        // out[co, iy·sh − pt + ky·dh, ix·sw − pl + kx·dw] += col[(co,ky,kx), iy·W + ix]
                        ek_col2im(o + ((b0 + s) * cout + g * cog) * outPlane, colC + s * inPlane, cols, h, w, kh, kw,
                                  stride.h, stride.w, dilation.h, dilation.w, padding.top, padding.left, outH, outW,
                                  c0, c1)
                    }
                }
            }
            b0 += nb
        }
        return out
    }
}
