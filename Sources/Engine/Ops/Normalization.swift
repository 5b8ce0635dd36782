import TensorStore
#if canImport(Glibc)
import Glibc
#endif

/// `[outer, length, inner]` view of a tensor around one dimension.
@usableFromInline
struct DimSplit {
    var outer: Int, length: Int, inner: Int
    init(_ shape: [Int], dim: Int) {
        outer = shape[..<dim].reduce(1, *)
        length = shape[dim]
        inner = shape[(dim + 1)...].reduce(1, *)
    }
}

@usableFromInline
func normalizedDim(_ dim: Int, rank: Int, _ op: String) throws(EngineError) -> Int {
    let d = dim < 0 ? dim + rank : dim
    try require(d >= 0 && d < rank, op, "dim \(dim) out of range for rank \(rank)")
    return d
}

extension Ops {
    /// Inference batch norm (`F.batch_norm(training=False)`, Keras `BatchNormalization` at inference):
    /// `(x − mean)/√(var + eps)·weight + bias` per channel (dim 1), computed as PyTorch does, as
    /// `x·α + β` with `α = weight/√(var + eps)`, `β = bias − mean·α`.
    /// Epsilons differ by source: PyTorch 1e-5, Keras 1e-3, BigGAN (HF) 1e-4.
    public static func batchNorm(_ x: Tensor, mean: Tensor, variance: Tensor, weight: Tensor? = nil,
                                 bias: Tensor? = nil, eps: Float = 1e-5) throws(EngineError) -> Tensor {
        let op = "batch_norm"
        try require(x.rank >= 2, op, "input must have rank ≥ 2, got \(x.shape)")
        let c = x.shape[1]
        for (name, t) in [("mean", mean), ("variance", variance), ("weight", weight), ("bias", bias)] {
            if let t { try require(t.elementCount == c, op, "\(name) \(t.shape) does not have \(c) elements (input \(x.shape))") }
        }
        let folded = foldBatchNorm(mean: mean, variance: variance, weight: weight, bias: bias, eps: eps)
        return try channelAffine(x, scale: folded.scale, shift: folded.shift)
    }

    /// The per-channel fold `batchNorm` applies: `α = weight/√(var + eps)`, `β = bias − mean·α` (for callers that
    /// fold once and apply `x·α + β` themselves). The four tensors hold one value per channel.
    public static func foldBatchNorm(mean: Tensor, variance: Tensor, weight: Tensor? = nil, bias: Tensor? = nil,
                                     eps: Float) -> (scale: [Float], shift: [Float]) {
        let c = mean.elementCount
        let m = Input(mean), v = Input(variance), w = weight.map(Input.init), b = bias.map(Input.init)
        var alpha = [Float](repeating: 0, count: c), beta = [Float](repeating: 0, count: c)
        for i in 0..<c {
            let invstd = 1 / (v[i] + eps).squareRoot()
            alpha[i] = (w?[i] ?? 1) * invstd
            beta[i] = (b?[i] ?? 0) - m[i] * alpha[i]
        }
        keepAlive(m, v, w as Any, b as Any)
        return (alpha, beta)
    }

    /// `x·scale[c] + shift[c]` per channel (dim 1): the folded form of batch norms and conditional norms.
    public static func channelAffine(_ x: Tensor, scale: [Float], shift: [Float]) throws(EngineError) -> Tensor {
        try require(x.rank >= 2 && scale.count == x.shape[1] && shift.count == x.shape[1], "channel_affine",
                    "scale/shift of \(scale.count)/\(shift.count) values do not match channels of \(x.shape)")
        let xi = Input(x)
        defer { keepAlive(xi) }
        let split = DimSplit(x.shape, dim: 1)
        let out = Tensor.uninitializedF32(x.shape)
        let src = xi.base, dst = out.mutableBase
        scale.withUnsafeBufferPointer { sc in
            shift.withUnsafeBufferPointer { sh in
                Parallel.forRanges(split.outer * split.length, minChunk: max(1, 16384 / max(split.inner, 1))) { r in
                    for row in r {
                        let c = row % split.length
                        let a = sc[c], b = sh[c]
                        let s = src + row * split.inner, d = dst + row * split.inner
                        for i in 0..<split.inner { d[i] = s[i] * a + b }
                    }
                }
            }
        }
        return out
    }

    /// `F.instance_norm` without running stats: per sample and channel over the spatial dims,
    /// `(x − mean)/√(var + eps)·weight[c] + bias[c]` with the biased variance.
    public static func instanceNorm(_ x: Tensor, weight: Tensor? = nil, bias: Tensor? = nil,
                                    eps: Float = 1e-5) throws(EngineError) -> Tensor {
        let op = "instance_norm"
        try require(x.rank >= 3, op, "input must have rank ≥ 3, got \(x.shape)")
        let c = x.shape[1]
        if let weight { try require(weight.elementCount == c, op, "weight \(weight.shape) does not have \(c) elements") }
        if let bias { try require(bias.elementCount == c, op, "bias \(bias.shape) does not have \(c) elements") }
        let split = DimSplit(x.shape, dim: 1)
        return normalizeRuns(x, runs: split.outer * c, length: split.inner, eps: eps,
                             weight: weight, bias: bias, affineIndex: { $0 % c }, affinePerElement: false)
    }

    /// `F.layer_norm` over the last `normalizedDims` dimensions: `(x − mean)/√(var + eps)·weight + bias` with
    /// `weight`/`bias` shaped like those dimensions.
    public static func layerNorm(_ x: Tensor, normalizedDims: Int = 1, weight: Tensor? = nil, bias: Tensor? = nil,
                                 eps: Float = 1e-5) throws(EngineError) -> Tensor {
        let op = "layer_norm"
        try require(normalizedDims >= 1 && normalizedDims <= x.rank, op, "cannot normalise \(normalizedDims) dims of \(x.shape)")
        let len = x.shape.suffix(normalizedDims).reduce(1, *)
        if let weight { try require(weight.elementCount == len, op, "weight \(weight.shape) does not have \(len) elements") }
        if let bias { try require(bias.elementCount == len, op, "bias \(bias.shape) does not have \(len) elements") }
        return normalizeRuns(x, runs: x.elementCount / max(len, 1), length: len, eps: eps, weight: weight, bias: bias,
                             affineIndex: { _ in 0 }, affinePerElement: true)
    }

    /// Shared mean/variance normalisation of contiguous runs (instance and layer norm).
    static func normalizeRuns(_ x: Tensor, runs: Int, length: Int, eps: Float, weight: Tensor?, bias: Tensor?,
                              affineIndex: @escaping @Sendable (Int) -> Int, affinePerElement: Bool) -> Tensor {
        let xi = Input(x), wi = weight.map(Input.init), bi = bias.map(Input.init)
        defer { keepAlive(xi, wi as Any, bi as Any) }
        let out = Tensor.uninitializedF32(x.shape)
        let src = xi.base, dst = out.mutableBase
        Parallel.forRanges(runs, minChunk: max(1, 16384 / max(length, 1))) { r in
            for run in r {
                let s = src + run * length, d = dst + run * length
                // Two-pass in double: the mean first, then the centred sum of squares (stable for large offsets).
                var sum = 0.0
                for i in 0..<length { sum += Double(s[i]) }
                let mean = sum / Double(length)
                var sq = 0.0
                for i in 0..<length { let t = Double(s[i]) - mean; sq += t * t }
                let invstd = Float(1 / (sq / Double(length) + Double(eps)).squareRoot())
                let meanF = Float(mean)
                if affinePerElement {
                    for i in 0..<length {
                        d[i] = (s[i] - meanF) * invstd * (wi?[i] ?? 1) + (bi?[i] ?? 0)
                    }
                } else {
                    let a = affineIndex(run)
                    let w = wi?[a] ?? 1, b = bi?[a] ?? 0
                    for i in 0..<length { d[i] = (s[i] - meanF) * invstd * w + b }
                }
            }
        }
        return out
    }

    /// `F.rms_norm` over the last dimension: `x·rsqrt(mean(x²) + eps)·weight`. PyTorch's default eps is
    /// `finfo(float32).eps` when none is given.
    public static func rmsNorm(_ x: Tensor, weight: Tensor? = nil, eps: Float = Float.ulpOfOne) throws(EngineError) -> Tensor {
        let op = "rms_norm"
        try require(x.rank >= 1, op, "input must have rank ≥ 1")
        let len = x.shape[x.rank - 1]
        if let weight { try require(weight.elementCount == len, op, "weight \(weight.shape) does not have \(len) elements") }
        return try secondMomentNorm(x, dim: x.rank - 1, eps: eps, weight: weight, mode: .rms)
    }

    /// StyleGAN's `normalize_2nd_moment` / ProGAN pixel norm: `x·rsqrt(mean(x², dim) + eps)` (eps 1e-8).
    public static func pixelNorm(_ x: Tensor, dim: Int = 1, eps: Float = 1e-8) throws(EngineError) -> Tensor {
        try secondMomentNorm(x, dim: dim, eps: eps, weight: nil, mode: .rms)
    }

    /// `F.normalize(p=2)`: `x / max(‖x‖₂, eps)` along `dim` (GigaGAN's RMS norms multiply this by √dim·γ).
    public static func l2Normalize(_ x: Tensor, dim: Int = 1, eps: Float = 1e-12) throws(EngineError) -> Tensor {
        try secondMomentNorm(x, dim: dim, eps: eps, weight: nil, mode: .l2)
    }

    enum MomentMode { case rms, l2 }

    static func secondMomentNorm(_ x: Tensor, dim: Int, eps: Float, weight: Tensor?, mode: MomentMode) throws(EngineError) -> Tensor {
        let d = try normalizedDim(dim, rank: x.rank, "normalize")
        let split = DimSplit(x.shape, dim: d)
        let xi = Input(x), wi = weight.map(Input.init)
        defer { keepAlive(xi, wi as Any) }
        let out = Tensor.uninitializedF32(x.shape)
        let src = xi.base, dst = out.mutableBase
        let (len, inner) = (split.length, split.inner)
        // One item = one outer index and a block of up to 256 inner positions; sums run over `len`.
        let block = min(inner, 256)
        let blocks = (inner + block - 1) / block
        Parallel.forRanges(split.outer * blocks, minChunk: max(1, 8192 / max(len * block, 1))) { r in
            var acc = [Float](repeating: 0, count: block)
            for item in r {
                let o = item / blocks, i0 = (item % blocks) * block, i1 = min(inner, i0 + block)
                let base = o * len * inner
                for j in 0..<(i1 - i0) { acc[j] = 0 }
                for c in 0..<len {
                    let s = src + base + c * inner
                    for j in i0..<i1 { acc[j - i0] += s[j] * s[j] }
                }
                for j in 0..<(i1 - i0) {
                    switch mode {
                    case .rms: acc[j] = 1 / (acc[j] / Float(len) + eps).squareRoot()
                    case .l2: acc[j] = 1 / max(acc[j].squareRoot(), eps)
                    }
                }
                for c in 0..<len {
                    let s = src + base + c * inner, dd = dst + base + c * inner
                    let w = wi?[c] ?? 1
                    for j in i0..<i1 { dd[j] = s[j] * acc[j - i0] * w }
                }
            }
        }
        return out
    }
}
