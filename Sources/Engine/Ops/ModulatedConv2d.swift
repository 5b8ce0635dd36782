import TensorStore

extension Ops {
    /// Demodulation coefficients of StyleGAN2's `modulated_conv2d`:
    /// `d[n, o] = rsqrt(Σ_{i,ky,kx} (W[o,i,ky,kx]·s[n,i])² + eps)` (eps 1e-8).
    /// GigaGAN clamps the sum at `eps` instead of adding it: pass `clampInsteadOfAdd`.
    public static func demodulationCoefficients(weight: Tensor, styles: Tensor, eps: Float = 1e-8,
                                                clampInsteadOfAdd: Bool = false) throws(EngineError) -> Tensor {
        let (o, _, _, n) = try modulationShapes(weight: weight, styles: styles)
        let norms = try squaredKernelNorms(weight: weight)
        let si = Input(styles)
        defer { keepAlive(si) }
        let d = demodulationCoefficients(squaredNorms: norms, outChannels: o, styles: si.base, batch: n, eps: eps,
                                         clampInsteadOfAdd: clampInsteadOfAdd)
        return Tensor(shape: [n, o], floats: d)
    }

    /// `Σ_k W[o,i,k]²` for every output and input channel, row-major `[O, I]`: the part of the demodulation that
    /// does not depend on the styles, which a model can compute once at load time.
    public static func squaredKernelNorms(weight: Tensor) throws(EngineError) -> [Float] {
        try requireRank(weight, 4, "modulated_conv2d", "weight")
        let pairs = weight.shape[0] * weight.shape[1], k2 = weight.shape[2] * weight.shape[3]
        let wi = Input(weight)
        defer { keepAlive(wi) }
        var wsq = [Float](repeating: 0, count: pairs)
        for pair in 0..<pairs {
            var acc: Float = 0
            let p = wi.base + pair * k2
            for t in 0..<k2 { acc += p[t] * p[t] }
            wsq[pair] = acc
        }
        return wsq
    }

    /// Demodulation coefficients from precomputed `squaredKernelNorms` (`[O, I]`) and styles `[N, I]`:
    /// `d[n, o] = 1 / √(Σ_i s[n,i]²·norms[o,i] + eps)` (or `max(…, eps)`), the sum over i in double. `[N·O]`.
    public static func demodulationCoefficients(squaredNorms: [Float], outChannels o: Int,
                                                styles: UnsafePointer<Float>, batch n: Int, eps: Float = 1e-8,
                                                clampInsteadOfAdd: Bool = false) -> [Float] {
        let i = o > 0 ? squaredNorms.count / o : 0
        var d = [Float](repeating: 0, count: n * o)
        squaredNorms.withUnsafeBufferPointer { wsq in
            for b in 0..<n {
                for oc in 0..<o {
                    var acc: Double = 0
                    for ic in 0..<i {
                        let s = Double(styles[b * i + ic])
                        acc += s * s * Double(wsq[oc * i + ic])
                    }
                    let sum = Float(acc)
                    d[b * o + oc] = 1 / (clampInsteadOfAdd ? max(sum, eps) : sum + eps).squareRoot()
                }
            }
        }
        return d
    }

    /// Per-sample weights of the fused modulated conv: `W'[n,o,i] = W[o,i]·s[n,i]·d[n,o]` (d = 1 without
    /// demodulation), shaped `[N·O, I, kh, kw]` for a grouped conv with `groups = N`. `squaredNorms`: the
    /// weight's `squaredKernelNorms`, when the caller computed them once (the same numbers either way).
    public static func modulatedWeights(weight: Tensor, styles: Tensor, demodulate: Bool = true,
                                        eps: Float = 1e-8, squaredNorms: [Float]? = nil) throws(EngineError) -> Tensor {
        let (o, i, k2, n) = try modulationShapes(weight: weight, styles: styles)
        if let squaredNorms {
            try require(squaredNorms.count == o * i, "modulated_conv2d",
                        "\(squaredNorms.count) squared norms for a weight \(weight.shape) (\(o * i) expected)")
        }
        let wi = Input(weight), si = Input(styles)
        defer { keepAlive(wi, si) }
        var dc: [Float]? = nil
        if demodulate {
            let norms = if let squaredNorms { squaredNorms } else { try squaredKernelNorms(weight: weight) }
            dc = demodulationCoefficients(squaredNorms: norms, outChannels: o, styles: si.base, batch: n, eps: eps)
        }
        let out = Tensor.uninitializedF32([n * o, i, weight.shape[2], weight.shape[3]])
        let dst = out.mutableBase
        Parallel.forRanges(n * o, minChunk: 8) { r in
            for row in r {
                let b = row / o, oc = row % o
                let dv = dc?[row] ?? 1
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
