import Engine
import TensorStore

/// StyleGAN3's `SynthesisLayer`: modulated conv ("full" padding k−1, styles normalised over the whole batch,
/// input gain `rsqrt(magnitude_ema)` after demodulation), then bias + filtered leaky ReLU with the stored
/// up/down filters. The last layer (ToRGB) does not demodulate, scales its styles by `1/√(I·k²)` and goes
/// through the same filtered op with slope 1, gain 1 and no filters.
struct StyleGAN3Layer {
    let geometry: StyleGAN3Config.LayerGeometry
    let affine: StyleGAN3Dense
    /// `[O, I, k, k]`; pre-normalised per output channel for demodulating layers.
    let weight: Tensor
    /// The weight's `Σ_k W²` per (o, i) for the demodulation, computed once (nil for ToRGB, which does not
    /// demodulate, or a weight of the wrong rank, which the forward pass then reports).
    let squaredNorms: [Float]?
    let bias: Tensor
    let inputGain: Float
    let upFilter: Tensor?, downFilter: Tensor?
    let clamp: Float?

    init(_ scope: ParameterScope, geometry g: StyleGAN3Config.LayerGeometry, wDim: Int, convClamp: Double?) {
        geometry = g
        affine = StyleGAN3Dense(scope.scope("affine"), inFeatures: wDim, outFeatures: g.inChannels)
        let w = scope.tensor("weight", shape: [g.outChannels, g.inChannels, g.convKernel, g.convKernel])
        weight = g.isToRGB ? w : Self.normalisedPerOutput(w)
        squaredNorms = g.isToRGB ? nil : try? Ops.squaredKernelNorms(weight: weight)
        bias = scope.tensor("bias", shape: [g.outChannels])
        let ema = scope.tensor("magnitude_ema", shape: []).floats().first ?? 1
        inputGain = 1 / ema.squareRoot()
        upFilter = g.upTaps > 1 ? scope.tensor("up_filter", shape: [g.upTaps]) : nil
        downFilter = g.downTaps > 1
            ? scope.tensor("down_filter", shape: g.downRadial ? [g.downTaps, g.downTaps] : [g.downTaps]) : nil
        clamp = convClamp.map { Float($0) }
    }

    /// `w · rsqrt(mean(w², [I, kh, kw]))` per output channel (the weight half of the pre-normalisation).
    static func normalisedPerOutput(_ w: Tensor) -> Tensor {
        let o = w.shape[0], per = w.elementCount / max(o, 1)
        var v = w.floats()
        for oc in 0..<o {
            var acc: Float = 0
            for j in 0..<per { acc += v[oc * per + j] * v[oc * per + j] }
            let r = 1 / (acc / Float(per)).squareRoot()
            for j in 0..<per { v[oc * per + j] *= r }
        }
        return Tensor(shape: w.shape, floats: v)
    }

    func callAsFunction(_ x: Tensor, _ w: Tensor) throws -> Tensor {
        let g = geometry
        let n = x.shape[0]
        guard x.shape == [n, g.inChannels, g.inSize, g.inSize] else {
            throw ModelError("expects input [N, \(g.inChannels), \(g.inSize), \(g.inSize)], got \(x.shape)", location: g.name)
        }
        var styles = try affine(w)
        let demodulate = !g.isToRGB
        if g.isToRGB {
            styles = Ops.scale(styles, Float(1 / Double(g.inChannels * g.convKernel * g.convKernel).squareRoot()))
        } else {
            // The style half of the pre-normalisation: one RMS over the whole [N, I] batch tensor.
            let s = styles.floats()
            let meanSquare = s.reduce(Float(0)) { $0 + $1 * $1 } / Float(max(s.count, 1))
            styles = Ops.scale(styles, 1 / meanSquare.squareRoot())
        }
        var wm = try Ops.modulatedWeights(weight: weight, styles: styles, demodulate: demodulate,
                                          squaredNorms: squaredNorms)
        if inputGain != 1 { wm = Ops.scale(wm, inputGain) }
        let k = g.convKernel
        let y = try Ops.conv2d(x.toFloat32().reshaped([1, n * g.inChannels, g.inSize, g.inSize]), weight: wm,
                               padding: Padding2D(k - 1), groups: n)
        let conv = y.reshaped([n, g.outChannels, y.shape[2], y.shape[3]])
        let p = g.padding
        return try Ops.filteredLeakyRelu(conv, bias: bias, upFilter: upFilter, downFilter: downFilter,
                                         up: g.up, down: g.down, padding: Padding2D(x0: p[0], x1: p[1], y0: p[2], y1: p[3]),
                                         slope: g.isToRGB ? 1 : 0.2, gain: g.isToRGB ? 1 : Float(2.0.squareRoot()),
                                         clamp: clamp)
    }
}
