import CEngineKernels

/// A convolution as one blocked GEMM whose B operand, the im2col matrix, is gathered from the image while it is
/// packed (`ek_conv_gemm`): no im2col buffer is written or read back. On AVX-512 CPUs, unless
/// `GANKIT_GEMM=openblas`; elsewhere callers build im2col and use `parallelSgemm`.
enum ImplicitConvGEMM {
    /// The image(s) at `x` as `ek_conv_gemm` sees them: the im2col columns of image 0, then image 1, … (images
    /// `imageStride` floats apart).
    static func source(_ x: UnsafePointer<Float>, _ g: ConvGeometry, imageStride: Int = 0) -> ek_conv_source {
        ek_conv_source(x: x, imageStride: imageStride, channels: g.channels, height: g.height, width: g.width,
                       kh: g.kh, kw: g.kw, sh: g.sh, sw: g.sw, dh: g.dh, dw: g.dw, padTop: g.padTop,
                       padLeft: g.padLeft, outH: g.outH, outW: g.outW)
    }

    /// Whether `multiply` runs on the first `columns` columns of `source`.
    static func available(_ source: ek_conv_source, columns: Int) -> Bool {
        guard BlockedGEMM.enabled else { return false }
        var s = source
        return ek_conv_gemm_supported(&s, columns) != 0
    }

    /// `c[i·ldc + j] = Σ_p weight[i·ldw + p]·col(p, j0 + j) + bias[i]` for i < m, j < n, cut into `parts` pieces on
    /// the worker pool like `blockedSgemm` (by whole 32-column panels when n ≥ m, else by 12-row micro-panels), so
    /// the result does not depend on `parts`. The caller checks `available` first.
    static func multiply(m: Int, n: Int, weight: UnsafePointer<Float>, ldw: Int, source: ek_conv_source, j0: Int = 0,
                         c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, parts: Int) {
        guard m > 0, n > 0 else { return }
        let k = Int(source.channels * source.kh * source.kw)
        func run(_ i0: Int, _ i1: Int, _ jj0: Int, _ jj1: Int) {
            var s = source
            Scratch.withBuffer(ek_conv_gemm_scratch_floats(i1 - i0, jj1 - jj0, k)) { scratch in
                _ = ek_conv_gemm(i1 - i0, jj1 - jj0, weight + i0 * ldw, ldw, &s, j0 + jj0, c + i0 * ldc + jj0, ldc,
                                 bias.map { $0 + i0 }, scratch)
            }
        }
        if parts <= 1 {
            run(0, m, 0, n)
        } else if n >= m {
            let piece = ((n + parts - 1) / parts + 31) / 32 * 32
            Parallel.forEach((n + piece - 1) / piece) { p in run(0, m, p * piece, min(n, p * piece + piece)) }
        } else {
            let piece = ((m + parts - 1) / parts + 11) / 12 * 12
            Parallel.forEach((m + piece - 1) / piece) { p in run(p * piece, min(m, p * piece + piece), 0, n) }
        }
    }
}
