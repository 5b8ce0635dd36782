import CCBLAS

/// Row-major single-precision GEMM on OpenBLAS: C = alpha·op(A)·op(B) + beta·C, with op = transpose when asked.
/// `lda`/`ldb`/`ldc` are row strides in elements.
@usableFromInline
func blasSgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        // BLAS leaves C alone for k = 0 only when beta = 1; make the result well defined either way.
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
        return
    }
    // Shared side of the gate: never runs while `threadedSgemm` has raised OpenBLAS' thread count.
    BLASThreading.gate.withShared {
        rawSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                 beta: beta, c: c, ldc: ldc)
    }
}

/// `cblas_sgemm` row-major, no gate (callers hold `BLASThreading.gate`).
@inline(__always)
func rawSgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
              b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

extension Ops {
    /// Raw row-major SGEMM on float buffers: `c[m×n] = alpha·a[m×k]·b[k×n] + beta·c` (benchmarks and custom kernels).
    public static func sgemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                             c: UnsafeMutablePointer<Float>, alpha: Float = 1, beta: Float = 0) {
        parallelSgemm(m: m, n: n, k: k, alpha: alpha, a: a, lda: k, b: b, ldb: n, beta: beta, c: c, ldc: n)
    }
}
