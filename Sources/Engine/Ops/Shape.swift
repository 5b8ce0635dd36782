import TensorStore

/// How `pad` fills the border.
public enum PaddingMode: Sendable, Equatable {
    /// A constant value (PyTorch `'constant'`, default 0). Negative padding crops.
    case constant(Float)
    /// Mirror without repeating the edge (`'reflect'`: `[a b c] → b a b c b`); padding must be < the size.
    case reflect
    /// Repeat the edge value (`'replicate'`).
    case replicate

    public static let zeros = PaddingMode.constant(0)
}

extension Ops {
    /// The same elements with another shape (`torch.reshape`). One dimension may be -1.
    public static func reshape(_ x: Tensor, _ shape: [Int]) throws(EngineError) -> Tensor {
        var s = shape
        let n = x.elementCount
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            try require(known > 0 && n % known == 0, "reshape", "cannot infer -1 in \(shape) for \(x.shape)")
            s[i] = n / known
        }
        try require(s.allSatisfy { $0 >= 0 } && s.reduce(1, *) == n, "reshape", "cannot reshape \(x.shape) to \(shape)")
        return x.toFloat32().reshaped(s)
    }

    /// `x.permute(dims)` materialised contiguously.
    public static func permute(_ x: Tensor, _ dims: [Int]) throws(EngineError) -> Tensor {
        try require(dims.count == x.rank && Set(dims) == Set(0..<x.rank), "permute", "\(dims) is not a permutation of the \(x.rank) dims of \(x.shape)")
        let c = x.toFloat32()
        let strides = Tensor.contiguousStrides(c.shape)
        guard let view = try? Tensor(storage: c.storage, dtype: .f32, shape: dims.map { c.shape[$0] },
                                     strides: dims.map { strides[$0] }, offset: c.offset) else {
            throw EngineError("permute", "cannot view \(x.shape) permuted by \(dims)")
        }
        return view.contiguous()
    }

    /// `x.narrow` / `x[..., start:end:step, ...]` along `dim`, materialised. `end` is clamped to the size.
    public static func slice(_ x: Tensor, dim: Int, start: Int, end: Int? = nil, step: Int = 1) throws(EngineError) -> Tensor {
        let d = try normalizedDim(dim, rank: x.rank, "slice")
        let size = x.shape[d]
        let e = min(end ?? size, size)
        try require(start >= 0 && start <= e && step >= 1, "slice", "bad range \(start)..<\(e) step \(step) for dim \(d) of \(x.shape)")
        let c = x.toFloat32()
        var shape = c.shape
        shape[d] = (e - start + step - 1) / step
        var strides = Tensor.contiguousStrides(c.shape)
        let offset = c.offset + start * strides[d]
        strides[d] *= step
        guard let view = try? Tensor(storage: c.storage, dtype: .f32, shape: shape, strides: strides, offset: offset) else {
            throw EngineError("slice", "cannot slice \(x.shape)")
        }
        return view.contiguous()
    }

    /// `torch.cat(tensors, dim)`.
    public static func concat(_ tensors: [Tensor], dim: Int) throws(EngineError) -> Tensor {
        guard let first = tensors.first else { throw EngineError("concat", "no tensors") }
        let d = try normalizedDim(dim, rank: first.rank, "concat")
        for t in tensors {
            try require(t.rank == first.rank && (0..<t.rank).allSatisfy { $0 == d || t.shape[$0] == first.shape[$0] },
                        "concat", "shape \(t.shape) does not match \(first.shape) outside dim \(d)")
        }
        var shape = first.shape
        shape[d] = tensors.reduce(0) { $0 + $1.shape[d] }
        let outer = shape[..<d].reduce(1, *), inner = shape[(d + 1)...].reduce(1, *)
        let out = Tensor.uninitializedF32(shape)
        let dst = out.mutableBase
        let rowLen = shape[d] * inner
        var col = 0
        for t in tensors {
            let ti = Input(t)
            let len = t.shape[d] * inner
            for o in 0..<outer { (dst + o * rowLen + col).update(from: ti.base + o * len, count: len) }
            col += len
            keepAlive(ti)
        }
        return out
    }

    /// `F.pad` on the last two dims of an NCHW (or any rank ≥ 2) tensor.
    public static func pad(_ x: Tensor, _ padding: Padding2D, mode: PaddingMode = .zeros) throws(EngineError) -> Tensor {
        let op = "pad"
        try require(x.rank >= 2, op, "input must have rank ≥ 2, got \(x.shape)")
        let h = x.shape[x.rank - 2], w = x.shape[x.rank - 1]
        let oh = h + padding.top + padding.bottom, ow = w + padding.left + padding.right
        try require(oh >= 0 && ow >= 0, op, "padding \(padding) crops more than \(h)×\(w)")
        switch mode {
        case .constant: break
        case .reflect:
            try require([padding.top, padding.bottom].allSatisfy { $0 >= 0 && $0 < h }
                        && [padding.left, padding.right].allSatisfy { $0 >= 0 && $0 < w }, op,
                        "reflect padding \(padding) must be non-negative and smaller than \(h)×\(w)")
        case .replicate:
            try require(padding.top >= 0 && padding.bottom >= 0 && padding.left >= 0 && padding.right >= 0 && h > 0 && w > 0,
                        op, "replicate padding \(padding) must be non-negative on a non-empty image")
        }
        let planes = x.elementCount / max(h * w, 1)
        let xi = Input(x)
        defer { keepAlive(xi) }
        var shape = x.shape
        shape[x.rank - 2] = oh; shape[x.rank - 1] = ow
        let out = Tensor.uninitializedF32(shape)
        let src = xi.base, dst = out.mutableBase
        @inline(__always) func sourceIndex(_ i: Int, _ n: Int) -> Int? {
            switch mode {
            case .constant: return (i >= 0 && i < n) ? i : nil
            case .reflect:
                if i < 0 { return -i }
                if i >= n { return 2 * (n - 1) - i }
                return i
            case .replicate: return Swift.min(Swift.max(i, 0), n - 1)
            }
        }
        let fill: Float
        if case .constant(let v) = mode { fill = v } else { fill = 0 }
        let colMap = (0..<ow).map { sourceIndex($0 - padding.left, w) ?? -1 }
        colMap.withUnsafeBufferPointer { cm in
            Parallel.forRanges(planes * oh, minChunk: max(1, 8192 / max(ow, 1))) { r in
                for row in r {
                    let p = row / oh, oy = row % oh
                    let d = dst + row * ow
                    guard let iy = sourceIndex(oy - padding.top, h) else { d.initialize(repeating: fill, count: ow); continue }
                    let s = src + (p * h + iy) * w
                    for ox in 0..<ow { let ix = cm[ox]; d[ox] = ix >= 0 ? s[ix] : fill }
                }
            }
        }
        return out
    }

    /// `F.pixel_shuffle`: `[N, C·r², H, W] → [N, C, H·r, W·r]`, `out[n,c,h·r+i,w·r+j] = x[n, c·r²+i·r+j, h, w]`.
    public static func pixelShuffle(_ x: Tensor, factor r: Int) throws(EngineError) -> Tensor {
        try requireRank(x, 4, "pixel_shuffle", "input")
        try require(r >= 1 && x.shape[1] % (r * r) == 0, "pixel_shuffle", "channels of \(x.shape) not divisible by \(r)²")
        let (n, c, h, w) = (x.shape[0], x.shape[1] / (r * r), x.shape[2], x.shape[3])
        return try permute(reshape(x, [n, c, r, r, h, w]), [0, 1, 4, 2, 5, 3]).reshaped([n, c, h * r, w * r])
    }

    /// `F.embedding`: rows of `weight [num, dim]` picked by `indices`, shaped `indexShape + [dim]`.
    public static func embedding(_ indices: [Int], weight: Tensor, indexShape: [Int]? = nil) throws(EngineError) -> Tensor {
        try requireRank(weight, 2, "embedding", "weight")
        let (num, dim) = (weight.shape[0], weight.shape[1])
        for i in indices { try require(i >= 0 && i < num, "embedding", "index \(i) out of range 0..<\(num)") }
        let ishape = indexShape ?? [indices.count]
        try require(ishape.reduce(1, *) == indices.count, "embedding", "index shape \(ishape) does not hold \(indices.count) indices")
        let wi = Input(weight)
        defer { keepAlive(wi) }
        let out = Tensor.uninitializedF32(ishape + [dim])
        for (k, i) in indices.enumerated() { (out.mutableBase + k * dim).update(from: wi.base + i * dim, count: dim) }
        return out
    }

    /// `F.embedding` with an integer (or float holding integers) index tensor.
    public static func embedding(_ indices: Tensor, weight: Tensor) throws(EngineError) -> Tensor {
        try embedding(indices.int64s().map { Int($0) }, weight: weight, indexShape: indices.shape)
    }
}
