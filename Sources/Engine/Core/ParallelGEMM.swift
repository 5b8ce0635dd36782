import CCBLAS

/// How the engine threads GEMMs: OpenBLAS is pinned to one thread and the engine splits work itself.
///
/// OpenBLAS' own worker threads busy-wait after each call; on a 2-core machine they then fight the engine's
/// im2col/FIR threads for the cores. Pinning BLAS to one thread and running independent GEMM tiles on
/// `Parallel` workers (each with its own im2col tile, hot in cache) avoids that and keeps both cores busy.
enum BLASThreading {
    /// Evaluated once, before the first GEMM or op output.
    static let pinned: Bool = {
        openblas_set_num_threads(1)
        EngineMemory.configure()
        return true
    }()
}

/// Row-major SGEMM split across the cores by output rows or columns (whichever is longer).
@usableFromInline
func parallelSgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                   a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                   beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    _ = BLASThreading.pinned
    let cores = Parallel.coreCount
    let work = Double(m) * Double(n) * Double(k)
    if cores == 1 || work < 2_000_000 || (m < 32 && n < 32) {
        blasSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c, ldc: ldc)
        return
    }
    // Align pieces to 16 so the AVX-512 micro-kernels stay full.
    if n >= m {
        let piece = ((n + cores - 1) / cores + 15) / 16 * 16
        let parts = (n + piece - 1) / piece
        Parallel.forEach(parts) { p in
            let j0 = p * piece, j1 = min(n, j0 + piece)
            if j0 >= j1 { return }
            blasSgemm(transA: transA, transB: transB, m: m, n: j1 - j0, k: k, alpha: alpha, a: a, lda: lda,
                  b: transB ? b + j0 * ldb : b + j0, ldb: ldb, beta: beta, c: c + j0, ldc: ldc)
        }
    } else {
        let piece = ((m + cores - 1) / cores + 15) / 16 * 16
        let parts = (m + piece - 1) / piece
        Parallel.forEach(parts) { p in
            let i0 = p * piece, i1 = min(m, i0 + piece)
            if i0 >= i1 { return }
            blasSgemm(transA: transA, transB: transB, m: i1 - i0, n: n, k: k, alpha: alpha,
                  a: transA ? a + i0 : a + i0 * lda, lda: lda, b: b, ldb: ldb, beta: beta,
                  c: c + i0 * ldc, ldc: ldc)
        }
    }
}
