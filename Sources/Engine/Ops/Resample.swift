import TensorStore

extension Ops {
    /// `F.interpolate(mode='nearest')` with integer scale factors: `out[y, x] = in[y / sh, x / sw]`.
    public static func upsampleNearest(_ x: Tensor, scale: Size2 = 2) throws(EngineError) -> Tensor {
        try requireRank(x, 4, "upsample_nearest", "input")
        try require(scale.h >= 1 && scale.w >= 1, "upsample_nearest", "scale \(scale) must be ≥ 1")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = h * scale.h, ow = w * scale.w
        let xi = Input(x)
        defer { keepAlive(xi) }
        let out = Tensor.uninitializedF32([n, c, oh, ow])
        let src = xi.base, dst = out.mutableBase
        Parallel.forRanges(n * c * h, minChunk: max(1, 8192 / max(ow * scale.h, 1))) { r in
            for row in r {
                let s = src + row * w
                let d = dst + row * scale.h * ow
                for ix in 0..<w { for j in 0..<scale.w { d[ix * scale.w + j] = s[ix] } }
                for k in 1..<max(scale.h, 1) { (d + k * ow).update(from: d, count: ow) }
            }
        }
        return out
    }

    /// `F.interpolate(mode='bilinear', align_corners=False)` to `size` (or `scale`×input).
    ///
    /// Source coordinate `(dst + ½)·ratio − ½`, clamped at 0, with `ratio = 1/scale` when a scale factor is given
    /// (PyTorch's rule) and `in/out` when a size is given; neighbours clamp at the far edge.
    public static func upsampleBilinear(_ x: Tensor, scale: Size2? = nil, size: Size2? = nil) throws(EngineError) -> Tensor {
        let op = "upsample_bilinear"
        try requireRank(x, 4, op, "input")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh: Int, ow: Int, ry: Float, rx: Float
        if let size {
            oh = size.h; ow = size.w
            ry = Float(h) / Float(max(oh, 1)); rx = Float(w) / Float(max(ow, 1))
        } else if let scale {
            oh = h * scale.h; ow = w * scale.w
            ry = Float(1.0 / Double(scale.h)); rx = Float(1.0 / Double(scale.w))
        } else { throw EngineError(op, "give a scale or a size") }
        try require(oh > 0 && ow > 0 && h > 0 && w > 0, op, "empty input \(x.shape) or output \(oh)×\(ow)")
        struct Tap { var i0: Int; var i1: Int; var l0: Float; var l1: Float }
        func taps(_ outLen: Int, _ inLen: Int, _ ratio: Float) -> [Tap] {
            (0..<outLen).map { d in
                let src = max(ratio * (Float(d) + 0.5) - 0.5, 0)
                let i0 = min(Int(src), inLen - 1)
                let i1 = i0 + (i0 < inLen - 1 ? 1 : 0)
                let l1 = src - Float(i0)
                return Tap(i0: i0, i1: i1, l0: 1 - l1, l1: l1)
            }
        }
        let ty = taps(oh, h, ry), tx = taps(ow, w, rx)
        let xi = Input(x)
        defer { keepAlive(xi) }
        let out = Tensor.uninitializedF32([n, c, oh, ow])
        let src = xi.base, dst = out.mutableBase
        ty.withUnsafeBufferPointer { ty in
            tx.withUnsafeBufferPointer { tx in
                Parallel.forRanges(n * c * oh, minChunk: max(1, 4096 / max(ow, 1))) { r in
                    for row in r {
                        let p = row / oh, oy = row % oh
                        let t = ty[oy]
                        let a = src + (p * h + t.i0) * w, b = src + (p * h + t.i1) * w
                        let d = dst + row * ow
                        for ox in 0..<ow {
                            let u = tx[ox]
                            d[ox] = t.l0 * (u.l0 * a[u.i0] + u.l1 * a[u.i1]) + t.l1 * (u.l0 * b[u.i0] + u.l1 * b[u.i1])
                        }
                    }
                }
            }
        }
        return out
    }

    /// `F.max_pool2d` without padding (BigGAN attention uses kernel 2, stride 2).
    public static func maxPool2d(_ x: Tensor, kernel: Size2 = 2, stride: Size2? = nil) throws(EngineError) -> Tensor {
        try pool2d(x, kernel: kernel, stride: stride ?? kernel, op: "max_pool2d", average: false)
    }

    /// `F.avg_pool2d` without padding.
    public static func avgPool2d(_ x: Tensor, kernel: Size2 = 2, stride: Size2? = nil) throws(EngineError) -> Tensor {
        try pool2d(x, kernel: kernel, stride: stride ?? kernel, op: "avg_pool2d", average: true)
    }

    static func pool2d(_ x: Tensor, kernel: Size2, stride: Size2, op: String, average: Bool) throws(EngineError) -> Tensor {
        try requireRank(x, 4, op, "input")
        try require(kernel.h >= 1 && kernel.w >= 1 && stride.h >= 1 && stride.w >= 1, op, "kernel \(kernel) and stride \(stride) must be ≥ 1")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = windowCount(h, padTotal: 0, kernel: kernel.h, stride: stride.h, dilation: 1)
        let ow = windowCount(w, padTotal: 0, kernel: kernel.w, stride: stride.w, dilation: 1)
        try require(oh > 0 && ow > 0, op, "kernel \(kernel) larger than input \(x.shape)")
        let xi = Input(x)
        defer { keepAlive(xi) }
        let out = Tensor.uninitializedF32([n, c, oh, ow])
        let src = xi.base, dst = out.mutableBase
        let area = Float(kernel.h * kernel.w)
        Parallel.forRanges(n * c * oh, minChunk: max(1, 4096 / max(ow, 1))) { r in
            for row in r {
                let p = row / oh, oy = row % oh
                for ox in 0..<ow {
                    var acc: Float = average ? 0 : -.infinity
                    for ky in 0..<kernel.h {
                        let s = src + (p * h + oy * stride.h + ky) * w + ox * stride.w
                        for kx in 0..<kernel.w {
                            let v = s[kx]
                            if average { acc += v } else if v > acc || v.isNaN { acc = v }
                        }
                    }
                    dst[row * ow + ox] = average ? acc / area : acc
                }
            }
        }
        return out
    }
}
