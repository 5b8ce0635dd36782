#if canImport(Glibc)
import Glibc
#endif
import TensorStore

extension Ops {
    /// StyleGAN's `upfirdn2d` (reference path `_upfirdn2d_ref`), per channel plane of `x [N, C, H, W]`:
    /// 1. upsample: insert `up − 1` zeros after every sample along each axis;
    /// 2. pad by `padding` (negative values crop);
    /// 3. convolve with `filter` — flipped unless `flipFilter` (a true convolution), scaled by `gain` (2-D filter)
    ///    or by `√gain` per axis (1-D filter, applied horizontally then vertically);
    /// 4. keep every `down`-th sample, starting at 0.
    ///
    /// Output size per axis: `(in·up + p0 + p1 − taps) / down + 1`.
    /// - Parameter filter: 1-D `[k]` (separable), 2-D `[kh, kw]`, or nil for the identity (`[[1]]`).
    ///   Rank-one 2-D filters (e.g. `[1,3,3,1]⊗[1,3,3,1]`) are run separably, which rounds differently from a
    ///   2-D sum by about 1e-7 relative.
    public static func upfirdn2d(_ x: Tensor, filter: Tensor?, up: Size2 = 1, down: Size2 = 1,
                                 padding: Padding2D = .zero, flipFilter: Bool = false,
                                 gain: Float = 1) throws(EngineError) -> Tensor {
        let op = "upfirdn2d"
        try requireRank(x, 4, op, "input")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let plan = try FIRPlan(op: op, inH: h, inW: w, filter: filter, up: up, down: down, padding: padding,
                               flipFilter: flipFilter, gain: gain)
        let xi = Input(x)
        defer { keepAlive(xi) }
        let out = Tensor.uninitializedF32([n, c, plan.outH, plan.outW])
        let src = xi.base, dst = out.mutableBase
        let inPlane = h * w, outPlane = plan.outH * plan.outW
        Parallel.forRanges(n * c, minChunk: 1) { r in
            Scratch.withBuffer(plan.scratchCount) { scratch in
                for p in r { plan.run(src + p * inPlane, into: dst + p * outPlane, scratch: scratch) }
            }
        }
        return out
    }

    /// StyleGAN's `setup_filter`: a 1-D tap list becomes a 2-D outer product when it has fewer than 8 taps
    /// (unless `separable` says otherwise), is divided by its sum when `normalize`, flipped when `flip`, and
    /// multiplied by `gain^(ndim/2)`. Returns `[k]` or `[k, k]`.
    public static func setupFilter(_ taps: [Float], normalize: Bool = true, flip: Bool = false, gain: Float = 1,
                                   separable: Bool? = nil) -> Tensor {
        let sep = separable ?? (taps.count >= 8)
        var f: [Float]
        var shape: [Int]
        if sep {
            f = taps; shape = [taps.count]
        } else {
            f = taps.flatMap { a in taps.map { a * $0 } }; shape = [taps.count, taps.count]
        }
        if normalize {
            let s = f.reduce(Float(0), +)
            f = f.map { $0 / s }
        }
        if flip { f.reverse() }
        let g = Float(Double(gain) ** (Double(shape.count) / 2))
        if g != 1 { f = f.map { $0 * g } }
        return Tensor(shape: shape, floats: f)
    }
}

infix operator ** : MultiplicationPrecedence
@usableFromInline
func ** (a: Double, b: Double) -> Double {
    #if canImport(Glibc)
    return Glibc.pow(a, b)
    #else
    return Foundation.pow(a, b)
    #endif
}
