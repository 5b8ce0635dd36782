import TensorStore

extension Ops {
    /// Demodulation coefficients of StyleGAN2's `modulated_conv2d`:
    /// `d[n, o] = rsqrt(Σ_{i,ky,kx} (W[o,i,ky,kx]·s[n,i])² + eps)` (eps 1e-8).
    /// GigaGAN clamps the sum at `eps` instead of adding it: pass `clampInsteadOfAdd`.
    public static func demodulationCoefficients(weight: Tensor, styles: Tensor, eps: Float = 1e-8,
                                                clampInsteadOfAdd: Bool = false) throws(EngineError) -> Tensor {
        let (o, i, k2, n) = try modulationShapes(weight: weight, styles: styles)
        let wi = Input(weight), si = Input(styles)
        defer { keepAlive(wi, si) }
        let out = Tensor.uninitializedF32([n, o])
        let d = out.mutableBase
        // Σ_i s[n,i]²·(Σ_k W[o,i,k]²): the inner sums do not depend on the sample.
        var wsq = [Float](repeating: 0, count: o * i)
        for oc in 0..<o { for ic in 0..<i {
            var acc: Float = 0
            let p = wi.base + (oc * i + ic) * k2
            for t in 0..<k2 { acc += p[t] * p[t] }
            wsq[oc * i + ic] = acc
        } }
        for b in 0..<n { for oc in 0..<o {
            var acc: Double = 0
            for ic in 0..<i { let s = Double(si.base[b * i + ic]); acc += s * s * Double(wsq[oc * i + ic]) }
            let sum = Float(acc)
            d[b * o + oc] = 1 / (clampInsteadOfAdd ? max(sum, eps) : sum + eps).squareRoot()
        } }
        return out
    }

    /// Per-sample weights of the fused modulated conv: `W'[n,o,i] = W[o,i]·s[n,i]·d[n,o]` (d = 1 without
    /// demodulation), shaped `[N·O, I, kh, kw]` for a grouped conv with `groups = N`.
    public static func modulatedWeights(weight: Tensor, styles: Tensor, demodulate: Bool = true,
                                        eps: Float = 1e-8) throws(EngineError) -> Tensor {
        let (o, i, k2, n) = try modulationShapes(weight: weight, styles: styles)
        let dc = demodulate ? try demodulationCoefficients(weight: weight, styles: styles, eps: eps) : nil
        let wi = Input(weight), si = Input(styles), di = dc.map(Input.init)
        defer { keepAlive(wi, si, di as Any) }
        let out = Tensor.uninitializedF32([n * o, i, weight.shape[2], weight.shape[3]])
        let dst = out.mutableBase
        Parallel.forRanges(n * o, minChunk: 8) { r in
            for row in r {
                let b = row / o, oc = row % o
                let dv = di?[row] ?? 1
                for ic in 0..<i {
                    let s = si.base[b * i + ic]
                    let src = wi.base + (oc * i + ic) * k2, d = dst + (row * i + ic) * k2
                    for t in 0..<k2 { d[t] = src[t] * s * dv }
                }
            }
        }
        return out
    }

    /// StyleGAN2's `modulated_conv2d` without resampling: styles `s [N, I]` scale the input channels of
    /// `weight [O, I, kh, kw]`, optional demodulation normalises each output channel, then a stride-1 conv.
    ///
    /// - `fused: true` (PyTorch eval default): per-sample weights and one grouped conv (`groups = N`).
    /// - `fused: false`: `x·s`, shared-weight conv, then `·d` — equal maths, different rounding.
    public static func modulatedConv2d(_ x: Tensor, weight: Tensor, styles: Tensor, demodulate: Bool = true,
                                       padding: Padding2D = 0, eps: Float = 1e-8,
                                       fused: Bool = true) throws(EngineError) -> Tensor {
        try requireRank(x, 4, "modulated_conv2d", "input")
        let (o, i, _, n) = try modulationShapes(weight: weight, styles: styles)
        try require(x.shape[0] == n && x.shape[1] == i, "modulated_conv2d",
                    "input \(x.shape) does not match styles \(styles.shape) and weight \(weight.shape)")
        let (h, w) = (x.shape[2], x.shape[3])
        if fused {
            let wm = try modulatedWeights(weight: weight, styles: styles, demodulate: demodulate, eps: eps)
            let y = try conv2d(x.toFloat32().reshaped([1, n * i, h, w]), weight: wm, padding: padding, groups: n)
            return y.reshaped([n, o, y.shape[2], y.shape[3]])
        }
        let xs = try mul(x, styles.toFloat32().reshaped([n, i, 1, 1]))
        let y = try conv2d(xs, weight: weight, padding: padding)
        guard demodulate else { return y }
        let dc = try demodulationCoefficients(weight: weight, styles: styles, eps: eps)
        return try mul(y, dc.reshaped([n, o, 1, 1]))
    }

    static func modulationShapes(weight: Tensor, styles: Tensor) throws(EngineError) -> (Int, Int, Int, Int) {
        try requireRank(weight, 4, "modulated_conv2d", "weight")
        try requireRank(styles, 2, "modulated_conv2d", "styles")
        let o = weight.shape[0], i = weight.shape[1]
        try require(styles.shape[1] == i, "modulated_conv2d", "styles \(styles.shape) do not have \(i) channels (weight \(weight.shape))")
        return (o, i, weight.shape[2] * weight.shape[3], styles.shape[0])
    }
}
