import TensorStore

/// Elementwise binary operations with NumPy/PyTorch broadcasting.
public enum BinaryOp: Sendable {
    case add, subtract, multiply, divide, maximum, minimum

    @inlinable
    func apply(_ a: Float, _ b: Float) -> Float {
        switch self {
        case .add: return a + b
        case .subtract: return a - b
        case .multiply: return a * b
        case .divide: return a / b
        case .maximum: return Swift.max(a, b)
        case .minimum: return Swift.min(a, b)
        }
    }
}

@usableFromInline
func broadcastShape(_ a: [Int], _ b: [Int], _ op: String) throws(EngineError) -> [Int] {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        guard da == db || da == 1 || db == 1 else { throw EngineError(op, "shapes \(a) and \(b) do not broadcast") }
        out[i] = da == 1 ? db : da
    }
    return out
}

/// Element strides of `shape` seen through the broadcast `outShape` (0 along broadcast dimensions).
func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
    let rank = outShape.count
    let own = Tensor.contiguousStrides(shape)
    var s = [Int](repeating: 0, count: rank)
    for i in 0..<rank {
        let j = i - (rank - shape.count)
        if j >= 0 && shape[j] != 1 { s[i] = own[j] }
    }
    return s
}

extension Ops {
    /// `a ∘ b` elementwise with broadcasting (`torch.add`, `mul`, `sub`, `div`, `maximum`, `minimum`).
    public static func binary(_ a: Tensor, _ b: Tensor, _ fn: BinaryOp) throws(EngineError) -> Tensor {
        let outShape = try broadcastShape(a.shape, b.shape, "elementwise")
        let ai = Input(a), bi = Input(b)
        defer { keepAlive(ai, bi) }
        let out = Tensor.uninitializedF32(outShape)
        let dst = out.mutableBase, pa = ai.base, pb = bi.base
        let total = out.elementCount
        if a.shape == b.shape {
            Parallel.forRanges(total, minChunk: 1 << 15) { r in for i in r { dst[i] = fn.apply(pa[i], pb[i]) } }
            return out
        }
        let rank = outShape.count
        let sa = broadcastStrides(a.shape, to: outShape), sb = broadcastStrides(b.shape, to: outShape)
        let inner = rank == 0 ? 1 : outShape[rank - 1]
        let rows = total / max(inner, 1)
        let ia = rank == 0 ? 0 : sa[rank - 1], ib = rank == 0 ? 0 : sb[rank - 1]
        Parallel.forRanges(rows, minChunk: max(1, 16384 / max(inner, 1))) { r in
            for row in r {
                var rem = row, oa = 0, ob = 0
                var d = rank - 2
                while d >= 0 {
                    let idx = rem % outShape[d]; rem /= outShape[d]
                    oa += idx * sa[d]; ob += idx * sb[d]
                    d -= 1
                }
                let out = dst + row * inner
                for i in 0..<inner { out[i] = fn.apply(pa[oa + i * ia], pb[ob + i * ib]) }
            }
        }
        return out
    }

    public static func add(_ a: Tensor, _ b: Tensor) throws(EngineError) -> Tensor { try binary(a, b, .add) }
    public static func sub(_ a: Tensor, _ b: Tensor) throws(EngineError) -> Tensor { try binary(a, b, .subtract) }
    public static func mul(_ a: Tensor, _ b: Tensor) throws(EngineError) -> Tensor { try binary(a, b, .multiply) }
    public static func div(_ a: Tensor, _ b: Tensor) throws(EngineError) -> Tensor { try binary(a, b, .divide) }

    /// `x·scale + shift` elementwise with scalars.
    public static func affine(_ x: Tensor, scale: Float, shift: Float = 0) -> Tensor {
        let xi = Input(x)
        defer { keepAlive(xi) }
        let out = Tensor.uninitializedF32(x.shape)
        let src = xi.base, dst = out.mutableBase
        Parallel.forRanges(xi.count, minChunk: 1 << 15) { r in for i in r { dst[i] = src[i] * scale + shift } }
        return out
    }

    /// `x·s` elementwise.
    public static func scale(_ x: Tensor, _ s: Float) -> Tensor {
        let xi = Input(x)
        defer { keepAlive(xi) }
        let out = Tensor.uninitializedF32(x.shape)
        let src = xi.base, dst = out.mutableBase
        Parallel.forRanges(xi.count, minChunk: 1 << 15) { r in for i in r { dst[i] = src[i] * s } }
        return out
    }

    /// `clamp(x, lo, hi)`.
    public static func clamp(_ x: Tensor, min lo: Float, max hi: Float) -> Tensor {
        let xi = Input(x)
        defer { keepAlive(xi) }
        let out = Tensor.uninitializedF32(x.shape)
        let src = xi.base, dst = out.mutableBase
        Parallel.forRanges(xi.count, minChunk: 1 << 15) { r in for i in r { dst[i] = Swift.min(Swift.max(src[i], lo), hi) } }
        return out
    }

    /// `torch.lerp(start, end, weight)` with PyTorch's CPU formula (bit-exact with torch 2.x):
    /// `start + w·(end − start)` for `|w| < 0.5`, else `end − (end − start)·(1 − w)`, both as fused multiply-adds.
    public static func lerp(_ start: Tensor, _ end: Tensor, weight w: Float) throws(EngineError) -> Tensor {
        let outShape = try broadcastShape(start.shape, end.shape, "lerp")
        let s = try broadcast(start, to: outShape), e = try broadcast(end, to: outShape)
        let si = Input(s), ei = Input(e)
        defer { keepAlive(si, ei) }
        let out = Tensor.uninitializedF32(outShape)
        let dst = out.mutableBase, ps = si.base, pe = ei.base
        for i in 0..<out.elementCount {
            let diff = pe[i] - ps[i]
            dst[i] = abs(w) < 0.5 ? ps[i].addingProduct(w, diff)
                                  : pe[i].addingProduct(-(1 - w), diff)
        }
        return out
    }

    /// Materialises `x` broadcast to `shape` (NumPy rules).
    public static func broadcast(_ x: Tensor, to shape: [Int]) throws(EngineError) -> Tensor {
        let s = try broadcastShape(x.shape, shape, "broadcast")
        try require(s == shape, "broadcast", "cannot broadcast \(x.shape) to \(shape)")
        if x.shape == shape { return x.toFloat32() }
        let strides = broadcastStrides(x.shape, to: shape)
        let c = x.toFloat32()
        guard let view = try? Tensor(storage: c.storage, dtype: .f32, shape: shape, strides: strides, offset: c.offset) else {
            throw EngineError("broadcast", "cannot view \(x.shape) as \(shape)")
        }
        return view.contiguous()
    }

    /// Sum of all elements (double accumulation).
    public static func sum(_ x: Tensor) -> Double {
        x.withFloats { b in b.reduce(0.0) { $0 + Double($1) } }
    }

    /// Mean over one dimension, keeping it with size 1 when `keepDim` (`torch.mean(x, dim, keepdim)`).
    public static func mean(_ x: Tensor, dim: Int, keepDim: Bool = false) throws(EngineError) -> Tensor {
        let d = try normalizedDim(dim, rank: x.rank, "mean")
        let split = DimSplit(x.shape, dim: d)
        let xi = Input(x)
        defer { keepAlive(xi) }
        var shape = x.shape
        if keepDim { shape[d] = 1 } else { shape.remove(at: d) }
        let out = Tensor(zeros: shape)
        let dst = out.mutableBase, src = xi.base
        Parallel.forRanges(split.outer, minChunk: 1) { r in
            for o in r {
                let dd = dst + o * split.inner
                for c in 0..<split.length {
                    let s = src + (o * split.length + c) * split.inner
                    for i in 0..<split.inner { dd[i] += s[i] }
                }
                let n = Float(split.length)
                for i in 0..<split.inner { dd[i] /= n }
            }
        }
        return out
    }
}
