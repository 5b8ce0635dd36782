import TensorStore
import CEngineKernels

extension Ops {
    /// StyleGAN3's `filtered_lrelu` (reference path `_filtered_lrelu_ref`), fused per channel plane:
    /// 1. `x + bias` (per channel);
    /// 2. `upfirdn2d(upFilter, up: up, padding: padding, gain: up²)`;
    /// 3. leaky ReLU with `slope`, times `gain`, clamped to `±clamp` when given;
    /// 4. `upfirdn2d(downFilter, down: down)` (no padding, gain 1).
    ///
    /// Filters follow `upfirdn2d` (1-D separable, 2-D, or nil for identity). StyleGAN3 synthesis layers use
    /// slope 0.2, gain √2, clamp 256; its ToRGB layer slope 1, gain 1, clamp 256.
    /// Unlike the reference this never materialises the upsampled tensor: each worker filters one plane
    /// through cache-resident scratch.
    public static func filteredLeakyRelu(_ x: Tensor, bias: Tensor? = nil, upFilter: Tensor?, downFilter: Tensor?,
                                         up: Int = 1, down: Int = 1, padding: Padding2D = .zero,
                                         slope: Float = 0.2, gain: Float = Float(2.0.squareRoot()),
                                         clamp: Float? = nil, flipFilter: Bool = false) throws(EngineError) -> Tensor {
        let op = "filtered_lrelu"
        try requireRank(x, 4, op, "input")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        if let bias { try require(bias.elementCount == c, op, "bias \(bias.shape) does not have \(c) elements (input \(x.shape))") }
        let upPlan = try FIRPlan(op: op, inH: h, inW: w, filter: upFilter, up: Size2(up), down: 1, padding: padding,
                                 flipFilter: flipFilter, gain: Float(up * up))
        let downPlan = try FIRPlan(op: op, inH: upPlan.outH, inW: upPlan.outW, filter: downFilter, up: 1,
                                   down: Size2(down), padding: .zero, flipFilter: flipFilter, gain: 1)
        let xi = Input(x), bi = bias.map(Input.init)
        defer { keepAlive(xi, bi as Any) }
        let out = Tensor.uninitializedF32([n, c, downPlan.outH, downPlan.outW])
        let src = xi.base, dst = out.mutableBase
        let inPlane = h * w, midPlane = upPlan.outH * upPlan.outW, outPlane = downPlan.outH * downPlan.outW
        let lo = -(clamp ?? .infinity), hi = clamp ?? .infinity
        let scratchCount = midPlane + max(upPlan.scratchCount, downPlan.scratchCount)
        Parallel.forRanges(n * c, minChunk: 1) { r in
            Scratch.withBuffer(scratchCount) { scratch in
                let mid = scratch, rest = scratch + midPlane
                for p in r {
                    let b = bi?[p % c] ?? 0
                    upPlan.run(src + p * inPlane, bias: b, into: mid, scratch: rest)
                    ek_lrelu_gain_clamp(mid, midPlane, slope, gain, lo, hi)
                    downPlan.run(mid, into: dst + p * outPlane, scratch: rest)
                }
            }
        }
        return out
    }
}
