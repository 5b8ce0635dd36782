import TensorStore

extension Ops {
    /// StyleGAN2's `conv2d_resample`: a conv fused with FIR up- or downsampling, choosing the same path as the
    /// reference for each case (so results round the same way).
    ///
    /// - Parameters:
    ///   - weight: `[O, I/groups, kh, kw]`.
    ///   - filter: the resampling FIR (`setupFilter([1,3,3,1])` in StyleGAN2), nil for none.
    ///   - padding: the layer's padding (`kernel/2`), before the resampling adjustments.
    ///   - flipWeight: false flips the kernel spatially (true convolution). StyleGAN2 layers pass
    ///     `flipWeight: up == 1`; the up path then runs `conv_transpose2d` with the stored, unflipped kernel.
    ///
    /// Paths (fw = filter taps): padding grows by `(fw+up−1)/2, (fw−up)/2` for up and `(fw−down+1)/2, (fw−down)/2`
    /// for down. Up: transposed conv with stride `up`, then `upfirdn2d(gain: up²)` with the remaining padding.
    /// Down: `upfirdn2d` padding+filter, then a strided conv. 1×1 kernels resample on the cheaper side.
    public static func conv2dResample(_ x: Tensor, weight: Tensor, filter: Tensor? = nil, up: Int = 1, down: Int = 1,
                                      padding: Int = 0, groups: Int = 1, flipWeight: Bool = true,
                                      flipFilter: Bool = false) throws(EngineError) -> Tensor {
        let op = "conv2d_resample"
        try requireRank(weight, 4, op, "weight")
        try require(up >= 1 && down >= 1, op, "up \(up) and down \(down) must be ≥ 1")
        let (o, ig, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let fw = filter.map { $0.rank == 2 ? $0.shape[1] : $0.shape[0] } ?? 1
        let fh = filter?.shape[0] ?? 1
        var px0 = padding, px1 = padding, py0 = padding, py1 = padding
        if up > 1 {
            px0 += (fw + up - 1) / 2; px1 += (fw - up) / 2
            py0 += (fh + up - 1) / 2; py1 += (fh - up) / 2
        }
        if down > 1 {
            px0 += (fw - down + 1) / 2; px1 += (fw - down) / 2
            py0 += (fh - down + 1) / 2; py1 += (fh - down) / 2
        }
        let w = flipWeight || up > 1 ? weight : try flipSpatial(weight)   // the up path flips on its own
        func fir(_ t: Tensor, up u: Int = 1, down d: Int = 1, _ p: Padding2D, gain: Float = 1) throws(EngineError) -> Tensor {
            try upfirdn2d(t, filter: filter, up: Size2(u), down: Size2(d), padding: p, flipFilter: flipFilter, gain: gain)
        }
        let pads = Padding2D(x0: px0, x1: px1, y0: py0, y1: py1)
        if kh == 1 && kw == 1 && down > 1 && up == 1 {
            return try conv2d(fir(x, down: down, pads), weight: w, groups: groups)
        }
        if kh == 1 && kw == 1 && up > 1 && down == 1 {
            return try fir(conv2d(x, weight: w, groups: groups), up: up, pads, gain: Float(up * up))
        }
        if down > 1 && up == 1 {
            return try conv2d(fir(x, pads), weight: w, stride: Size2(down), groups: groups)
        }
        if up > 1 {
            // Transposed-conv weight [groups·I, O/groups, kh, kw]; the caller's flip choice is inverted for it.
            let og = o / groups
            let wt = try permute(reshape(weight, [groups, og, ig, kh, kw]), [0, 2, 1, 3, 4])
                .reshaped([groups * ig, og, kh, kw])
            let wtFlipped = flipWeight ? try flipSpatial(wt) : wt
            let qx0 = px0 - (kw - 1), qx1 = px1 - (kw - up), qy0 = py0 - (kh - 1), qy1 = py1 - (kh - up)
            let pxt = max(min(-qx0, -qx1), 0), pyt = max(min(-qy0, -qy1), 0)
            var y = try convTranspose2d(x, weight: wtFlipped, stride: Size2(up), padding: Padding2D(h: pyt, w: pxt), groups: groups)
            y = try fir(y, Padding2D(x0: qx0 + pxt, x1: qx1 + pxt, y0: qy0 + pyt, y1: qy1 + pyt), gain: Float(up * up))
            if down > 1 { y = try fir(y, down: down, .zero) }
            return y
        }
        if px0 == px1 && py0 == py1 && px0 >= 0 && py0 >= 0 {
            return try conv2d(x, weight: w, padding: Padding2D(h: py0, w: px0), groups: groups)
        }
        // up == down == 1 here: pad (or crop) unevenly, then convolve.
        return try conv2d(upfirdn2d(x, filter: nil, padding: pads), weight: w, groups: groups)
    }

    /// The kernel flipped along both spatial axes (`w.flip([2, 3])`).
    public static func flipSpatial(_ w: Tensor) throws(EngineError) -> Tensor {
        try requireRank(w, 4, "flip", "weight")
        let (kh, kw) = (w.shape[2], w.shape[3])
        let wi = Input(w)
        defer { keepAlive(wi) }
        let out = Tensor.uninitializedF32(w.shape)
        let k2 = kh * kw
        for p in 0..<(w.elementCount / max(k2, 1)) {
            for i in 0..<k2 { out.mutableBase[p * k2 + i] = wi.base[p * k2 + (k2 - 1 - i)] }
        }
        return out
    }
}
