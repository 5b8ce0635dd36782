import CEngineKernels
import TensorStore

/// A convolution as one blocked GEMM whose B operand, the im2col matrix, is gathered from the image while it is
/// packed (`ek_conv_gemm`): no im2col buffer is written or read back. On AVX2 and AVX-512 CPUs, unless
/// `GANKIT_GEMM=openblas`; elsewhere callers build im2col and use `parallelSgemm`.
enum ImplicitConvGEMM {
    /// The image(s) at `x` as `ek_conv_gemm` sees them: the im2col columns of image 0, then image 1, … (images
    /// `imageStride` floats apart).
    static func source(_ x: UnsafePointer<Float>, _ g: ConvGeometry, imageStride: Int = 0) -> ek_conv_source {
        ek_conv_source(x: x, imageStride: imageStride, channels: g.channels, height: g.height, width: g.width,
                       kh: g.kh, kw: g.kw, sh: g.sh, sw: g.sw, dh: g.dh, dw: g.dw, padTop: g.padTop,
                       padLeft: g.padLeft, outH: g.outH, outW: g.outW, guarded: 0, phases: 0)
    }

    /// Runs `body` with `source` itself, or, where the kernels gather faster from one (`ek_conv_prefers_padded`:
    /// AVX2), with a zero-padded copy of its image made on all cores (16 guard floats on either side; stride-2
    /// columns split into even and odd, so neighbouring windows are neighbours). The copy holds the same values
    /// the gathers would read, zeros included, so the product is the same to the bit.
    static func withGatherSource(_ source: ek_conv_source, _ body: (ek_conv_source) -> Void) {
        var s = source
        guard ek_conv_prefers_padded(&s) != 0 else { return body(source) }
        let channels = source.channels, plane = ek_conv_padded_plane(&s)
        Scratch.withBuffer(channels * plane + 32) { buffer in
            buffer.initialize(repeating: 0, count: 16)
            (buffer + 16 + channels * plane).initialize(repeating: 0, count: 16)
            Parallel.forRanges(channels, minChunk: max(1, 16384 / max(plane, 1))) { r in
                ek_conv_pad(&s, buffer + 16, r.lowerBound, r.upperBound)
            }
            body(ek_conv_padded_source(&s, buffer + 16))
        }
    }

    /// Whether `multiply` runs on the first `columns` columns of `source`.
    static func available(_ source: ek_conv_source, columns: Int) -> Bool {
        guard BlockedGEMM.enabled else { return false }
        var s = source
        return ek_conv_gemm_supported(&s, columns) != 0
    }

    /// `c[i·ldc + j] = Σ_p weight[i·ldw + p]·col(p, j0 + j) + bias[i]` for i < m, j < n, cut into `parts` pieces on
    /// the worker pool as `blockedSgemm` cuts (`forEachGEMMPiece`), so the result does not depend on `parts`. The
    /// caller checks `available` first. `packed`: the same weight packed ahead (`PackedWeights`), which the pieces
    /// read instead of packing it; same sums, same bits.
    static func multiply(m: Int, n: Int, weight: UnsafePointer<Float>, ldw: Int, packed: PackedOperand? = nil,
                         source: ek_conv_source, j0: Int = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
                         bias: UnsafePointer<Float>?, parts: Int) {
        guard m > 0, n > 0 else { return }
        let k = Int(source.channels * source.kh * source.kw)
        forEachGEMMPiece(m: m, n: n, parts: parts) { rows, cols in
            var s = source
            Scratch.withBuffer(ek_conv_gemm_scratch_floats(rows.count, cols.count, k)) { scratch in
                let dst = c + rows.lowerBound * ldc + cols.lowerBound, rowBias = bias.map { $0 + rows.lowerBound }
                if let packed, ek_conv_gemm_packed(rows.count, cols.count, packed.base, packed.matrix.packedLines,
                                                   rows.lowerBound, &s, j0 + cols.lowerBound, dst, ldc, rowBias,
                                                   scratch) != 0 {
                    return
                }
                _ = ek_conv_gemm(rows.count, cols.count, weight + rows.lowerBound * ldw, ldw, &s, j0 + cols.lowerBound,
                                 dst, ldc, rowBias, scratch)
            }
        }
    }
}

extension ImplicitConvGEMM {
    /// A whole `conv2d` call (not 1×1 stride 1) on the implicit GEMM; returns false (writing nothing) when it is
    /// unavailable. Small planes of a batch (groups = 1) go side by side in one product, so 4×4 and 8×8 planes do
    /// not leave most of a 32-column panel empty; their products are then scattered to NCHW with the bias. Other
    /// planes are one product each: on all cores, or one per core when there are many small ones.
    /// `weightTensor`: the tensor `weight` is the start of; when frozen, its packed form is kept across calls
    /// (`PackedWeights`).
    static func convolve(x: UnsafePointer<Float>, batch: Int, inChannels c: Int, weight: UnsafePointer<Float>,
                         weightTensor: Tensor? = nil, outChannels o: Int, bias: UnsafePointer<Float>?, groups: Int,
                         geometry geo: ConvGeometry, out: UnsafeMutablePointer<Float>) -> Bool {
        let og = o / groups, k = geo.rows, p = geo.cols, inPlane = geo.height * geo.width
        let cores = Parallel.coreCount
        guard available(source(x, geo), columns: p) else { return false }
        let packed = weightTensor.flatMap { PackedWeights.shared.matrix(for: $0, rows: og, depth: k, groups: groups) }
        defer { withExtendedLifetime(packed) {} }
        if groups == 1 && batch > 1 && p < sideBySideBelow {
            let perBlock = min(batch, max(1, sideBySideColumns / p))
            let whole = source(x, geo, imageStride: c * inPlane)
            if available(whole, columns: perBlock * p) {
                Scratch.withBuffer(og * perBlock * p) { prod in
                    var b0 = 0
                    while b0 < batch {
                        let nb = min(perBlock, batch - b0), cols = nb * p
                        multiply(m: og, n: cols, weight: weight, ldw: k, packed: packed.map { PackedOperand($0) },
                                 source: source(x + b0 * c * inPlane, geo, imageStride: c * inPlane),
                                 c: prod, ldc: cols, bias: nil, parts: cores)
                        scatterSideBySide(prod, images: nb, channels: og, pixels: p, bias: bias,
                                          into: out + b0 * o * p)
                        b0 += nb
                    }
                }
                return true
            }
        }
        let items = batch * groups
        let work = Double(og) * Double(p) * Double(k)   // multiply-adds per item
        func item(_ t: Int, parts: Int) {
            let b = t / groups, gi = t % groups
            withGatherSource(source(x + (b * c + gi * geo.channels) * inPlane, geo)) { src in
                multiply(m: og, n: p, weight: weight + gi * og * k, ldw: k,
                         packed: packed.map { PackedOperand($0, group: gi) }, source: src,
                         c: out + (b * o + gi * og) * p, ldc: p,
                         bias: bias.map { $0 + gi * og }, parts: parts)
            }
        }
        if items >= 2 * cores && work < BLASThreading.wideWork {
            Parallel.forEach(items) { item($0, parts: 1) }
        } else {
            for t in 0..<items { item(t, parts: work < 2_000_000 ? 1 : cores) }   // small: not worth splitting
        }
        return true
    }

    /// Planes with fewer output pixels than this go side by side (a batch, groups = 1)...
    static let sideBySideBelow = 1024
    /// ...up to about this many columns per product.
    static let sideBySideColumns = 4096
}
