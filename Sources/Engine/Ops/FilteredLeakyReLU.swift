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
    /// through cache-resident scratch. Up 2 / down 2 with separable filters (StyleGAN3's layers) runs as one C
    /// kernel per range of planes (`ek_flrelu_up2_down2`); other settings chain the generic FIR plans.
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
        if let fused = FusedUp2Down2(up: upPlan, down: downPlan) {
            // StyleGAN3's layers: the whole plane in one C call (see ek_flrelu_up2_down2).
            fused.withPlan(slope: slope, gain: gain, lo: lo, hi: hi) { plan in
                let scratchCount = ek_flrelu_scratch(plan)
                Parallel.forRanges(n * c, minChunk: 1) { r in
                    Scratch.withBuffer(scratchCount) { scratch in
                        ek_flrelu_up2_down2(plan, src, dst, bi?.base, c, r.lowerBound, r.upperBound, scratch)
                    }
                }
            }
            return out
        }
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

/// The index tables of `ek_flrelu_up2_down2`: up by 2 and down by 2 on both axes with separable filters
/// (nil when the plans are anything else, or a filter is longer than the kernel takes).
struct FusedUp2Down2 {
    let inH: Int, inW: Int, midH: Int, midW: Int, outH: Int, outW: Int
    let paddedX: Int, marginX: Int, x0: Int, x1: Int, tx0: Int, tx1: Int, k0: Int, k1: Int, perPhaseX: Int
    let wx: [Float], wy: [Float], wdx: [Float], wdy: [Float]
    let yFirst: [Int], yPhase: [Int]
    let ty: Int

    init?(up: FIRPlan, down: FIRPlan) {
        let ux = up.axisX, uy = up.axisY, dx = down.axisX, dy = down.axisY
        let maxTaps = Int(EK_FLRELU_MAX_TAPS)
        guard up.fullRows == 0, down.fullRows == 0, ux.up == 2, uy.up == 2, ux.down == 1, uy.down == 1,
              dx.up == 1, dy.up == 1, dx.down == 2, dy.down == 2, dx.leftMargin == 0, dy.leftMargin == 0,
              ux.outLen >= 2, uy.perPhase <= maxTaps, dx.taps <= maxTaps, dy.taps <= maxTaps else { return nil }
        inH = uy.inLen; inW = ux.inLen; midH = uy.outLen; midW = ux.outLen; outH = dy.outLen; outW = dx.outLen
        paddedX = ux.paddedLength; marginX = ux.leftMargin
        x0 = ux.first[0]; x1 = ux.first[1]; k0 = ux.phase[0]; k1 = ux.phase[1]; perPhaseX = ux.perPhase
        tx0 = (ux.taps - k0 + 1) / 2; tx1 = (ux.taps - k1 + 1) / 2
        wx = up.wx; wy = up.wy; wdx = down.wx; wdy = down.wy
        yFirst = uy.first.map { $0 - uy.leftMargin }; yPhase = uy.phase; ty = uy.perPhase
    }

    /// `body` gets the C plan; its pointers are valid only inside.
    func withPlan<R>(slope: Float, gain: Float, lo: Float, hi: Float,
                     _ body: (UnsafePointer<ek_flrelu_plan>) -> R) -> R {
        wx.withUnsafeBufferPointer { wx in wy.withUnsafeBufferPointer { wy in
        wdx.withUnsafeBufferPointer { wdx in wdy.withUnsafeBufferPointer { wdy in
        yFirst.withUnsafeBufferPointer { yFirst in yPhase.withUnsafeBufferPointer { yPhase in
            var plan = ek_flrelu_plan(inH: inH, inW: inW, midH: midH, midW: midW, outH: outH, outW: outW,
                                      paddedX: paddedX, marginX: marginX, x0: x0, x1: x1, tx0: tx0, tx1: tx1,
                                      wx0: wx.baseAddress! + k0 * perPhaseX, wx1: wx.baseAddress! + k1 * perPhaseX,
                                      yFirst: yFirst.baseAddress, yPhase: yPhase.baseAddress, wy: wy.baseAddress,
                                      ty: ty, wdy: wdy.baseAddress, wdx: wdx.baseAddress, tdy: wdy.count,
                                      tdx: wdx.count, slope: slope, gain: gain, lo: lo, hi: hi)
            return withUnsafePointer(to: &plan) { body($0) }
        } } } } } }
    }
}
