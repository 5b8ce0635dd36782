import TensorStore
import CEngineKernels

extension Ops {
    /// `torch.nn.functional.linear`: `y = x·Wᵀ + b` over the last dimension.
    /// - Parameters:
    ///   - x: `[..., in]`.
    ///   - weight: `[out, in]` (PyTorch layout; a Keras Dense kernel is its transpose).
    ///   - bias: `[out]` or nil.
    /// - Returns: `[..., out]`.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) throws(EngineError) -> Tensor {
        try requireRank(weight, 2, "linear", "weight")
        try require(x.rank >= 1, "linear", "input must have rank ≥ 1, got \(x.shape)")
        let inF = weight.shape[1], outF = weight.shape[0]
        try require(x.shape.last == inF, "linear", "input \(x.shape) does not end in \(inF) (weight \(weight.shape))")
        if let bias { try require(bias.elementCount == outF, "linear", "bias \(bias.shape) does not have \(outF) elements") }
        let rows = x.elementCount / max(inF, 1)
        let xi = Input(x), wi = Input(weight), bi = bias.map(Input.init)
        defer { keepAlive(xi, wi, bi as Any) }
        var outShape = x.shape; outShape[outShape.count - 1] = outF
        let out = Tensor.uninitializedF32(outShape)
        let o = out.mutableBase
        if rows <= 8 && inF > 0 && ek_kernel_level() >= 2 {
            // Mapping networks and style affines: a few rows against a big weight. Stream the weight once with
            // a vector kernel (OpenBLAS would pack it first), output features split across cores in pieces of
            // ≥ 1 M multiply-adds (8×512×512 on the worker pool: 24–25 µs on two threads, 30–48 µs on one;
            // with a 60–80 µs thread wake-up per loop it was 49 µs on one and 55–72 µs on two). AVX2 (Zen 3, two
            // cores): 29–39 µs against 60–64 µs for OpenBLAS.
            let x = xi.base, w = wi.base, b = bi?.base
            Parallel.forRanges(outF, minChunk: max(16, (1 << 20) / max(inF * rows, 1))) { r in
                _ = ek_linear_small(o, outF, x, inF, rows, w, inF, r.lowerBound, r.upperBound, b)
            }
            return out
        }
        if inF == 0 {
            for r in 0..<rows {
                if let bi { (o + r * outF).update(from: bi.base, count: outF) } else {
                    (o + r * outF).initialize(repeating: 0, count: outF)
                }
            }
            return out
        }
        // A frozen weight (a bound parameter) keeps its packed form across calls.
        let packed = PackedWeights.shared.transposedB(for: wi.tensor, columns: outF, depth: inF)
        parallelSgemm(transB: true, m: rows, n: outF, k: inF, a: xi.base, lda: inF, b: wi.base, ldb: inF,
                      c: o, ldc: outF, bias: bi.map { .perColumn($0.base) } ?? .none, packedB: packed.map { PackedOperand($0) })
        return out
    }

    /// `torch.matmul` for rank-2 and batched rank-3+ operands: `[..., m, k] × [..., k, n] → [..., m, n]`.
    /// Batch dimensions must be equal, or one operand may be rank 2 (broadcast over the other's batch).
    /// `transposeA`/`transposeB` multiply by the transpose of the last two dims without materialising it.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                              alpha: Float = 1) throws(EngineError) -> Tensor {
        try require(a.rank >= 2 && b.rank >= 2, "matmul", "operands need rank ≥ 2, got \(a.shape) and \(b.shape)")
        let ar = a.rank, br = b.rank
        let m = transposeA ? a.shape[ar - 1] : a.shape[ar - 2]
        let ka = transposeA ? a.shape[ar - 2] : a.shape[ar - 1]
        let kb = transposeB ? b.shape[br - 1] : b.shape[br - 2]
        let n = transposeB ? b.shape[br - 2] : b.shape[br - 1]
        try require(ka == kb, "matmul", "inner sizes differ: \(a.shape)\(transposeA ? "ᵀ" : "") × \(b.shape)\(transposeB ? "ᵀ" : "")")
        let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
        let batchShape: [Int]
        if ar == 2 { batchShape = bBatch } else if br == 2 { batchShape = aBatch } else {
            try require(aBatch == bBatch, "matmul", "batch dimensions differ: \(a.shape) and \(b.shape)")
            batchShape = aBatch
        }
        let batch = batchShape.reduce(1, *)
        let ai = Input(a), bi = Input(b)
        defer { keepAlive(ai, bi) }
        let out = Tensor.uninitializedF32(batchShape + [m, n])
        let o = out.mutableBase
        let aStride = ar == 2 ? 0 : m * ka, bStride = br == 2 ? 0 : ka * n
        if ka == 0 { o.initialize(repeating: 0, count: batch * m * n); return out }
        for t in 0..<batch {
            parallelSgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: ka, alpha: alpha,
                  a: ai.base + t * aStride, lda: transposeA ? m : ka,
                  b: bi.base + t * bStride, ldb: transposeB ? ka : n,
                  c: o + t * m * n, ldc: n)
        }
        return out
    }
}
