import TensorStore

extension Ops {
    /// `torch.nn.utils.spectral_norm` at inference: `W / σ` with `σ = u·(W_mat·v)` from the stored `u [out]`,
    /// `v [in·k·k]` and no power iteration; `W_mat = weight.reshape(out, −1)`.
    public static func spectralNormalized(_ weight: Tensor, u: Tensor, v: Tensor) throws(EngineError) -> Tensor {
        let (rows, cols) = try spectralShapes(weight, u)
        try require(v.elementCount == cols, "spectral_norm", "v \(v.shape) does not have \(cols) elements (weight \(weight.shape))")
        let wi = Input(weight), ui = Input(u), vi = Input(v)
        defer { keepAlive(wi, ui, vi) }
        var sigma: Float = 0
        for r in 0..<rows {
            var wv: Float = 0
            for c in 0..<cols { wv += wi.base[r * cols + c] * vi.base[c] }
            sigma += ui.base[r] * wv
        }
        return try divided(weight, by: sigma)
    }

    /// Spectral norm with one power iteration from `u` (BigGAN-PyTorch's `SN.W_` in eval, and
    /// `torch.nn.utils.spectral_norm` in train mode):
    /// `v = normalize(W_matᵀ·u)`, `u' = normalize(W_mat·v)`, `σ = u'·(W_mat·v)`, where
    /// `normalize(a) = a / max(‖a‖, eps)`. BigGAN-PyTorch uses eps 1e-6 (TF-Hub ports 1e-4), torch 1e-12.
    public static func spectralNormPowerIteration(_ weight: Tensor, u: Tensor, eps: Float) throws(EngineError)
        -> (weight: Tensor, sigma: Float, u: Tensor, v: Tensor) {
        let (rows, cols) = try spectralShapes(weight, u)
        let wi = Input(weight), ui = Input(u)
        defer { keepAlive(wi, ui) }
        var v = [Float](repeating: 0, count: cols)
        for r in 0..<rows { let ur = ui.base[r]; for c in 0..<cols { v[c] += ur * wi.base[r * cols + c] } }
        normalize(&v, eps)
        var wv = [Float](repeating: 0, count: rows)
        for r in 0..<rows { var a: Float = 0; for c in 0..<cols { a += wi.base[r * cols + c] * v[c] }; wv[r] = a }
        var un = wv
        normalize(&un, eps)
        var sigma: Float = 0
        for r in 0..<rows { sigma += un[r] * wv[r] }
        return (try divided(weight, by: sigma), sigma, Tensor(shape: [rows], floats: un), Tensor(shape: [cols], floats: v))
    }

    static func normalize(_ a: inout [Float], _ eps: Float) {
        let n = a.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        let d = max(n, eps)
        for i in a.indices { a[i] /= d }
    }

    static func divided(_ x: Tensor, by s: Float) throws(EngineError) -> Tensor {
        let xi = Input(x)
        defer { keepAlive(xi) }
        let out = Tensor.uninitializedF32(x.shape)
        for i in 0..<xi.count { out.mutableBase[i] = xi.base[i] / s }
        return out
    }

    static func spectralShapes(_ weight: Tensor, _ u: Tensor) throws(EngineError) -> (Int, Int) {
        try require(weight.rank >= 2, "spectral_norm", "weight must have rank ≥ 2, got \(weight.shape)")
        let rows = weight.shape[0], cols = weight.elementCount / max(rows, 1)
        try require(u.elementCount == rows, "spectral_norm", "u \(u.shape) does not have \(rows) elements (weight \(weight.shape))")
        return (rows, cols)
    }
}
