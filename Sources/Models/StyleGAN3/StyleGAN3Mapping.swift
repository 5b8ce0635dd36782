import Engine
import TensorStore

/// NVlabs `FullyConnectedLayer` with its runtime gains folded in once at bind time:
/// `y = act(x·(W·lr/√in)ᵀ + b·lr)` (lrelu: slope 0.2, then ×√2).
struct StyleGAN3Dense {
    let weight: Tensor
    let bias: Tensor?
    let lrelu: Bool

    init(_ scope: ParameterScope, inFeatures: Int, outFeatures: Int, lrMultiplier: Double = 1, lrelu: Bool = false) {
        let raw = scope.tensor("weight", shape: [outFeatures, inFeatures])
        // PyTorch multiplies a float32 tensor by a Python float in float32.
        let gain = Float(lrMultiplier / Double(inFeatures).squareRoot())
        weight = Ops.scale(raw, gain)
        let b = scope.tensor("bias", shape: [outFeatures])
        bias = lrMultiplier == 1 ? b : Ops.scale(b, Float(lrMultiplier))
        self.lrelu = lrelu
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        if !lrelu { return try Ops.linear(x, weight: weight, bias: bias) }
        let y = try Ops.linear(x, weight: weight)
        return try Ops.biasAct(y, bias: bias, dim: 1, activation: .lrelu)
    }
}

/// The mapping network of NVlabs StyleGAN2/3 (`MappingNetwork`): normalise z (and the embedded c), then
/// `num_layers` lrelu layers with learning-rate multiplier, broadcast to `num_ws`, truncate towards `w_avg`.
/// (Written here because no shared StyleGAN2 mapping existed when this family was added; the maths is the same.)
struct StyleGAN3Mapping {
    let zDim: Int, cDim: Int, wDim: Int, numWs: Int
    let embed: StyleGAN3Dense?
    let layers: [StyleGAN3Dense]
    let wAvg: Tensor

    init(_ scope: ParameterScope, config: StyleGAN3Config) {
        zDim = config.zDim
        cDim = config.cDim
        wDim = config.wDim
        numWs = config.numWs
        embed = cDim > 0 ? StyleGAN3Dense(scope.scope("embed"), inFeatures: cDim, outFeatures: wDim) : nil
        var layers: [StyleGAN3Dense] = []
        var inF = zDim + (cDim > 0 ? wDim : 0)
        for i in 0..<config.mappingLayers {
            layers.append(StyleGAN3Dense(scope.scope("fc\(i)"), inFeatures: inF, outFeatures: wDim,
                                         lrMultiplier: config.mappingLrMultiplier, lrelu: true))
            inF = wDim
        }
        self.layers = layers
        wAvg = scope.tensor("w_avg", shape: [wDim])
    }

    /// `[N, zDim]` (+ `[N, cDim]`) → `[N, numWs, wDim]`, truncated on layers `0 ..< cutoff` when psi ≠ 1.
    func callAsFunction(z: Tensor, c: Tensor?, psi: Float, cutoff: Int?) throws -> Tensor {
        guard z.rank == 2, z.shape[1] == zDim else {
            throw ModelError("z must be [N, \(zDim)], got \(z.shape)", location: "mapping")
        }
        let n = z.shape[0]
        var x = try Ops.pixelNorm(z.toFloat32(), dim: 1, eps: 1e-8)
        if let embed {
            guard let c, c.shape == [n, cDim] else {
                throw ModelError("this model is conditional: c must be [\(n), \(cDim)], got \(c.map { "\($0.shape)" } ?? "none")",
                                 location: "mapping")
            }
            let y = try Ops.pixelNorm(try embed(c.toFloat32()), dim: 1, eps: 1e-8)
            x = try Ops.concat([x, y], dim: 1)
        }
        for layer in layers { x = try layer(x) }
        // Broadcast to every W slot, then lerp towards w_avg (torch.lerp's CPU rounding) on the first `cutoff`.
        let w = x.floats()
        let cut = min(max(cutoff ?? numWs, 0), numWs)
        var out = [Float](repeating: 0, count: n * numWs * wDim)
        let truncated: [Float]
        if psi != 1 && cut > 0 {
            truncated = try Ops.lerp(wAvg.reshaped([1, wDim]), x, weight: psi).floats()
        } else {
            truncated = w
        }
        for s in 0..<n {
            for l in 0..<numWs {
                let src = l < cut ? truncated : w
                for j in 0..<wDim { out[(s * numWs + l) * wDim + j] = src[s * wDim + j] }
            }
        }
        return Tensor(shape: [n, numWs, wDim], floats: out)
    }
}
