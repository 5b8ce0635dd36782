import TensorStore
import CEngineKernels
#if canImport(Glibc)
import Glibc
#endif

/// Softmax of `n` contiguous values in place: `exp(x − max) / Σ` (vector kernel, exp within 2 ulp).
@inline(__always)
func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) { ek_softmax_row(p, n) }

extension Ops {
    /// `torch.softmax(x, dim)`: `exp(x − max) / Σ exp(x − max)` along `dim`.
    public static func softmax(_ x: Tensor, dim: Int = -1) throws(EngineError) -> Tensor {
        let d = try normalizedDim(dim, rank: x.rank, "softmax")
        if d != x.rank - 1 {
            var perm = Array(0..<x.rank); perm.swapAt(d, x.rank - 1)
            return try permute(softmax(permute(x, perm), dim: -1), perm)
        }
        let out = x.toFloat32().contiguous()
        let copy = Tensor.uninitializedF32(x.shape)
        let n = x.shape.last ?? 1
        out.withFloats { src in copy.mutableBase.update(from: src.baseAddress!, count: src.count) }
        let p = copy.mutableBase
        Parallel.forRanges(x.elementCount / max(n, 1), minChunk: max(1, 4096 / max(n, 1))) { r in
            for row in r { softmaxRow(p + row * n, n) }
        }
        return copy
    }

    /// Scaled dot-product attention (`F.scaled_dot_product_attention`, math path):
    /// `softmax(q·kᵀ·scale + mask)·v` over `[..., L, D]` operands with equal batch dims.
    ///
    /// - Parameters:
    ///   - query: `[..., Lq, D]`; key: `[..., Lk, D]`; value: `[..., Lk, Dv]`.
    ///   - scale: default `1/√D`. SAGAN/BigGAN attention uses 1.
    ///   - keep: optional mask broadcastable to `[..., Lq, Lk]`; where it is 0 the score is replaced by
    ///     `maskValue` before the softmax. The default `−Float.greatestFiniteMagnitude` is GigaGAN's
    ///     `−finfo.max` (a fully masked row becomes uniform); use `−.infinity` for PyTorch boolean masks.
    /// - Returns: `[..., Lq, Dv]`.
    public static func attention(query: Tensor, key: Tensor, value: Tensor, scale: Float? = nil, keep: Tensor? = nil,
                                 maskValue: Float = -Float.greatestFiniteMagnitude) throws(EngineError) -> Tensor {
        try attention(query: query, key: key, value: value, scale: scale, keep: keep, maskValue: maskValue,
                      blockFloats: 256 << 10, panels: true)
    }

    /// `attention` with the score block size given (floats of scores per work item; tests make it small) and the
    /// panel kernels allowed or not (tests run both paths).
    static func attention(query: Tensor, key: Tensor, value: Tensor, scale: Float?, keep: Tensor?,
                          maskValue: Float, blockFloats: Int, panels: Bool) throws(EngineError) -> Tensor {
        let op = "attention"
        try require(query.rank >= 2 && key.rank == query.rank && value.rank == query.rank, op,
                    "query \(query.shape), key \(key.shape), value \(value.shape) need equal ranks ≥ 2")
        let r = query.rank
        let batchShape = Array(query.shape.dropLast(2))
        try require(Array(key.shape.dropLast(2)) == batchShape && Array(value.shape.dropLast(2)) == batchShape, op,
                    "batch dims differ: \(query.shape), \(key.shape), \(value.shape)")
        let (lq, d) = (query.shape[r - 2], query.shape[r - 1])
        let (lk, dk) = (key.shape[r - 2], key.shape[r - 1])
        let (lv, dv) = (value.shape[r - 2], value.shape[r - 1])
        try require(dk == d && lv == lk, op, "key \(key.shape) / value \(value.shape) do not fit query \(query.shape)")
        let batch = batchShape.reduce(1, *)
        let maskT = try keep.map { m throws(EngineError) in try broadcast(m, to: batchShape + [lq, lk]) }
        let qi = Input(query), ki = Input(key), vi = Input(value), mi = maskT.map(Input.init)
        defer { keepAlive(qi, ki, vi, mi as Any) }
        let s = scale ?? 1 / Float(d).squareRoot()
        let out = Tensor.uninitializedF32(batchShape + [lq, dv])
        let o = out.mutableBase
        if panels && ek_kernel_level() >= 2 {
            panelAttention(q: qi.base, k: ki.base, v: vi.base, mask: mi?.base, out: o, batch: batch, lq: lq, lk: lk,
                           d: d, dv: dv, scale: s, maskValue: maskValue, blockFloats: blockFloats)
            return out
        }
        _ = BLASThreading.pinned
        // Work items are (batch, block of query rows): each block's scores (≤ 1 MB) stay in L2 between the two
        // GEMMs and the softmax, and a single head still spreads over the cores.
        let blockRows = max(1, min(lq, blockFloats / max(lk, 1)))
        let blocks = (lq + blockRows - 1) / blockRows
        let items = batch * blocks
        let wide = items < Parallel.coreCount
        Parallel.forEach(items) { item in
            let b = item / blocks, r0 = (item % blocks) * blockRows, rows = min(blockRows, lq - r0)
            Scratch.withBuffer(rows * lk + rows) { scores in
                let sums = scores + rows * lk
                func gemm(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                          _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
                          _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
                    if wide {
                        parallelSgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
                                      ldb: ldb, beta: beta, c: c, ldc: ldc)
                    } else {
                        blasSgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
                                  ldb: ldb, beta: beta, c: c, ldc: ldc)
                    }
                }
                gemm(false, true, rows, lk, d, s, qi.base + (b * lq + r0) * d, d, ki.base + b * lk * d, d, 0, scores, lk)
                softmaxNumerators(scores, rows: rows, lk: lk, keep: mi.map { $0.base + (b * lq + r0) * lk },
                                  maskValue: maskValue, inverseSums: sums)
                let dst = o + (b * lq + r0) * dv
                gemm(false, false, rows, dv, lk, 1, scores, lk, vi.base + b * lk * dv, dv, 0, dst, dv)
                for row in 0..<rows {
                    let inv = sums[row], r = dst + row * dv
                    for j in 0..<dv { r[j] *= inv }
                }
            }
        }
        return out
    }

    /// Masks `rows × lk` scores (keep = 0 → `maskValue`) and replaces them by the unnormalised softmax
    /// exp(x − max) of each row, writing 1 / Σ per row: the ·V output rows are scaled by it afterwards, Dv values
    /// per row rather than Lk.
    private static func softmaxNumerators(_ scores: UnsafeMutablePointer<Float>, rows: Int, lk: Int,
                                          keep: UnsafePointer<Float>?, maskValue: Float,
                                          inverseSums: UnsafeMutablePointer<Float>) {
        if let keep {
            for j in 0..<(rows * lk) where keep[j] == 0 { scores[j] = maskValue }
        }
        for row in 0..<rows { inverseSums[row] = 1 / ek_exp_shifted_row(scores + row * lk, lk) }
    }

    /// Attention on the panel kernels: each head's kᵀ and v are packed once into 32-column panels, then every
    /// (head, block of query rows) item runs scores = q·kᵀ·scale, the unnormalised softmax and out = p·v / Σ
    /// with the scores in L2. Against two OpenBLAS calls per block this saves repacking k and v for every block
    /// and the per-call overhead, which dominate when one side is only D = 64 long.
    private static func panelAttention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                       mask: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, batch: Int,
                                       lq: Int, lk: Int, d: Int, dv: Int, scale: Float, maskValue: Float,
                                       blockFloats: Int) {
        let kFloats = ek_panel_floats(d, lk), vFloats = ek_panel_floats(lk, dv)
        let perHead = max(1, kFloats + vFloats)
        // Heads packed at a time: at most 32 MB of panels (or one head), so memory stays bounded by the input.
        let chunk = max(1, min(batch, (8 << 20) / perHead))
        // Query blocks of whole 12-row tiles, about equal in size.
        let maxRows = max(12, blockFloats / max(lk, 1) / 12 * 12)
        let blocks = max(1, (lq + maxRows - 1) / maxRows)
        let blockRows = ((lq + blocks - 1) / blocks + 11) / 12 * 12
        let blocksPerHead = max(1, (lq + blockRows - 1) / blockRows)
        Scratch.withBuffer(chunk * perHead) { packed in
            for first in stride(from: 0, to: batch, by: chunk) {
                let heads = min(chunk, batch - first)
                Parallel.forEach(heads) { h in
                    let b = first + h, dst = packed + h * perHead
                    ek_panel_pack(dst, k + b * lk * d, d, d, lk, 1)
                    ek_panel_pack(dst + kFloats, v + b * lk * dv, dv, lk, dv, 0)
                }
                Parallel.forEach(heads * blocksPerHead) { item in
                    let h = item / blocksPerHead, b = first + h
                    let r0 = (item % blocksPerHead) * blockRows, rows = min(blockRows, lq - r0)
                    if rows <= 0 { return }
                    let kp = packed + h * perHead, vp = kp + kFloats
                    Scratch.withBuffer(rows * lk + rows) { scores in
                        let sums = scores + rows * lk
                        _ = ek_panel_gemm(rows, lk, d, scale, q + (b * lq + r0) * d, d, kp, scores, lk, nil)
                        softmaxNumerators(scores, rows: rows, lk: lk, keep: mask.map { $0 + (b * lq + r0) * lk },
                                          maskValue: maskValue, inverseSums: sums)
                        _ = ek_panel_gemm(rows, dv, lk, 1, scores, lk, vp, out + (b * lq + r0) * dv, dv, sums)
                    }
                }
            }
        }
    }

    /// `[B, L, H·D] → [B, H, L, D]` (heads outer in the channel dim, as `rearrange('b n (h d) -> b h n d')`).
    public static func splitHeads(_ x: Tensor, heads: Int) throws(EngineError) -> Tensor {
        try requireRank(x, 3, "split_heads", "input")
        try require(heads >= 1 && x.shape[2] % heads == 0, "split_heads", "\(x.shape[2]) channels not divisible by \(heads) heads")
        let (b, l, c) = (x.shape[0], x.shape[1], x.shape[2])
        return try permute(reshape(x, [b, l, heads, c / heads]), [0, 2, 1, 3])
    }

    /// `[B, H, L, D] → [B, L, H·D]`, the inverse of `splitHeads`.
    public static func mergeHeads(_ x: Tensor) throws(EngineError) -> Tensor {
        try requireRank(x, 4, "merge_heads", "input")
        let (b, h, l, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return try permute(x, [0, 2, 1, 3]).reshaped([b, l, h * d])
    }
}
