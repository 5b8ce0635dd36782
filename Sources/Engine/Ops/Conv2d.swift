import TensorStore
import CEngineKernels

/// Geometry of one 2-D convolution, shared by the im2col kernels.
@usableFromInline
struct ConvGeometry: Sendable {
    var channels: Int      // input channels per group
    var height: Int, width: Int
    var kh: Int, kw: Int
    var sh: Int, sw: Int
    var dh: Int, dw: Int
    var padTop: Int, padLeft: Int
    var outH: Int, outW: Int
    var rows: Int { channels * kh * kw }
    var cols: Int { outH * outW }
}

/// Sizes at which a convolution switches strategy (tests lower them to reach every path on small shapes).
@usableFromInline
struct ConvTuning: Sendable {
    /// Floats in one wide im2col block (32 MB).
    var blockFloats = 8 << 20
    /// Multiply-adds from which a block's GEMM runs on all cores (`threadedSgemm`).
    var wideWork = BLASThreading.wideWork
    /// Weight floats (per group) from which the wide strategy pays: below it, re-packing the weight for every
    /// cache-sized tile is cheap and the tiles' locality wins (measured: 512→512 3×3 gains 30–45%, 256→256 and
    /// smaller lose 3–25% when their whole im2col matrix leaves the cache).
    var wideWeightFloats = 1 << 20
    /// An im2col matrix (all planes of the call) up to this many floats stays in cache: wide regardless of the
    /// weight size (StyleGAN2's 4×4-kernel stride-2 down-sampling convs).
    var cachedBlockFloats = 2 << 20
    /// 3×3 stride-1 convs with at least this many input and output channels per group, and at least
    /// `winogradMinPixels` output pixels per plane, run as Winograd F(2×2, 3×3) (nil: never).
    var winogradMinChannels: Int? = 32
    var winogradMinPixels = 256
    /// Floats of transformed input or products per Winograd tile block (16 MB).
    var winogradBlockFloats = 4 << 20
    /// Bytes of transformed input and products per Winograd block that one core takes through all three phases
    /// (1.5 MB, in its 2 MB L2), used when that holds ≥ 128 tiles (in + out channels ≤ 192) and every core gets
    /// two blocks. Measured at 64→64 channels, 256²: 12.9–16.9 ms against 17.2–22.2 phase by phase; at
    /// 128→128, 128² (64–96 tiles a block) it was no faster than phase by phase, so it stays there.
    var winogradLocalBytes = 3 << 19
    /// With AVX-512, convs with ≤ 6 output channels per group run on the direct kernel and the others (not 1×1
    /// stride 1) on the implicit-im2col GEMM; off, they build im2col in the ways below (as without AVX-512).
    var implicitIm2col = true
    @usableFromInline static let standard = ConvTuning()
}

/// Writes columns `p0..<p1` (output pixels) of the im2col matrix of one group into `col` (rows `ld` floats
/// apart, `p1−p0` by default): `col[(c,ky,kx), p] = x[c, oy·sh − pt + ky·dh, ox·sw − pl + kx·dw]`, zero outside
/// the image.
@usableFromInline
func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, rows r0: Int, _ r1: Int, cols p0: Int, _ p1: Int,
            into col: UnsafeMutablePointer<Float>, ld: Int? = nil) {
    let n = ld ?? (p1 - p0)
    let plane = g.height * g.width
    for r in r0..<r1 {
        let c = r / (g.kh * g.kw), ky = (r / g.kw) % g.kh, kx = r % g.kw
        let src = x + c * plane
        let dst = col + r * n
        var p = p0
        while p < p1 {
            let oy = p / g.outW, ox0 = p % g.outW
            let ox1 = min(g.outW, ox0 + (p1 - p))
            let seg = dst + (p - p0)
            let len = ox1 - ox0
            let iy = oy * g.sh - g.padTop + ky * g.dh
            if iy < 0 || iy >= g.height {
                seg.initialize(repeating: 0, count: len)
            } else {
                let row = src + iy * g.width
                let shift = kx * g.dw - g.padLeft
                if g.sw == 1 {
                    // ix = ox + shift: zeros, one copied run, zeros.
                    let lo = min(max(ox0, -shift), ox1), hi = max(min(ox1, g.width - shift), lo)
                    if lo > ox0 { seg.initialize(repeating: 0, count: lo - ox0) }
                    if hi > lo { (seg + (lo - ox0)).update(from: row + lo + shift, count: hi - lo) }
                    if ox1 > hi { (seg + (hi - ox0)).initialize(repeating: 0, count: ox1 - hi) }
                } else {
                    // ix = ox·sw + shift: zeros, one strided run, zeros.
                    let first = shift >= 0 ? 0 : (-shift + g.sw - 1) / g.sw
                    let end = g.width - shift <= 0 ? 0 : (g.width - shift + g.sw - 1) / g.sw
                    let lo = min(max(ox0, first), ox1), hi = max(min(ox1, end), lo)
                    if lo > ox0 { seg.initialize(repeating: 0, count: lo - ox0) }
                    if hi > lo { ek_gather_strided(seg + (lo - ox0), row + lo * g.sw + shift, hi - lo, g.sw) }
                    if ox1 > hi { (seg + (hi - ox0)).initialize(repeating: 0, count: ox1 - hi) }
                }
            }
            p += len
        }
    }
}

/// A product of images side by side, `[C, N·P]`, back to `[N, C, P]` (images `C·P` floats apart in `out`), plus
/// the bias per channel (groups = 1, so `C` is all the output channels).
func scatterSideBySide(_ prod: UnsafePointer<Float>, images: Int, channels: Int, pixels p: Int,
                       bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>) {
    Parallel.forRanges(images * channels, minChunk: max(1, 16384 / max(p, 1))) { r in
        for idx in r {
            let s = idx / channels, oc = idx % channels
            let src = prod + oc * images * p + s * p, dst = out + (s * channels + oc) * p
            if let bias { ek_add_scalar(dst, src, bias[oc], p) } else { dst.update(from: src, count: p) }
        }
    }
}

extension Ops {
    /// `torch.nn.functional.conv2d` (cross-correlation, NCHW).
    ///
    /// - Parameters:
    ///   - x: `[N, C, H, W]`.
    ///   - weight: `[O, C/groups, kh, kw]`.
    ///   - bias: `[O]` or nil.
    ///   - padding: zero padding; may be asymmetric (Keras "same" with an odd total). Must be ≥ 0.
    ///   - groups: `C` and `O` must be divisible by it. StyleGAN's fused modulated conv runs one group per
    ///     sample on `x` reshaped to `[1, N·C, H, W]` (see `modulatedConv2d`).
    /// - Returns: `[N, O, Ho, Wo]`, `Ho = (H + pt + pb − dh·(kh−1) − 1) / sh + 1`.
    ///
    /// 3×3 stride-1 convs with ≥ 32 channels and ≥ 256 output pixels (all images) run as Winograd F(2×2, 3×3) (16 GEMMs on
    /// transformed tiles, 2.25× fewer multiplies). With AVX-512, convs with ≤ 6 output channels per group run on a
    /// direct kernel (`FewOutputConv`) and the others on a GEMM that gathers im2col as it packs it
    /// (`ImplicitConvGEMM`). The rest run as GEMM: 1×1 stride-1 unpadded convs multiply
    /// the weight by the input directly. Without AVX-512, large convs build
    /// the im2col matrix of a whole plane (or of several small planes side by side) on all cores and multiply it
    /// once on all cores (`threadedSgemm`); smaller ones build im2col tiles per worker thread (in cache) and multiply each
    /// with a single-threaded SGEMM.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2 = 1,
                              padding: Padding2D = 0, dilation: Size2 = 1, groups: Int = 1) throws(EngineError) -> Tensor {
        try conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups,
                   tuning: .standard)
    }

    /// `conv2d` with explicit strategy thresholds.
    static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Size2, padding: Padding2D,
                       dilation: Size2, groups: Int, tuning: ConvTuning) throws(EngineError) -> Tensor {
        let op = "conv2d"
        try requireRank(x, 4, op, "input")
        try requireRank(weight, 4, op, "weight")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, cg, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        try require(groups >= 1 && c % groups == 0 && o % groups == 0, op,
                    "groups \(groups) must divide input channels \(c) and output channels \(o)")
        try require(cg == c / groups, op, "weight \(weight.shape) expects \(cg * groups) input channels, input is \(x.shape) with groups \(groups)")
        try require(stride.h >= 1 && stride.w >= 1 && dilation.h >= 1 && dilation.w >= 1, op, "stride \(stride) and dilation \(dilation) must be ≥ 1")
        try require(padding.top >= 0 && padding.bottom >= 0 && padding.left >= 0 && padding.right >= 0, op, "negative padding \(padding)")
        try require(kh >= 1 && kw >= 1, op, "empty kernel \(weight.shape)")
        if let bias { try require(bias.elementCount == o, op, "bias \(bias.shape) does not have \(o) elements") }
        let outH = windowCount(h, padTotal: padding.top + padding.bottom, kernel: kh, stride: stride.h, dilation: dilation.h)
        let outW = windowCount(w, padTotal: padding.left + padding.right, kernel: kw, stride: stride.w, dilation: dilation.w)
        try require(outH > 0 && outW > 0, op, "kernel \(kh)×\(kw) (dilation \(dilation)) does not fit input \(h)×\(w) with padding \(padding)")
        let geo = ConvGeometry(channels: cg, height: h, width: w, kh: kh, kw: kw, sh: stride.h, sw: stride.w,
                               dh: dilation.h, dw: dilation.w, padTop: padding.top, padLeft: padding.left,
                               outH: outH, outW: outW)
        let xi = Input(x), wi = Input(weight), bi = bias.map(Input.init)
        defer { keepAlive(xi, wi, bi as Any) }
        let out = Tensor.uninitializedF32([n, o, outH, outW])
        // A frozen weight (a bound parameter) may keep its GEMM-packed form across calls.
        convolve(x: xi.base, batch: n, inChannels: c, weight: wi.base, weightTensor: wi.tensor, outChannels: o,
                 bias: bi?.base, groups: groups, geometry: geo, out: out.mutableBase, tuning: tuning)
        return out
    }

    /// The conv2d kernel on raw buffers (also used by modulated and resampling convs). `weightTensor`: the
    /// contiguous f32 tensor `weight` is the start of, when there is one (its packed form may then be kept,
    /// `PackedWeights`).
    @usableFromInline
    static func convolve(x: UnsafePointer<Float>, batch: Int, inChannels c: Int, weight: UnsafePointer<Float>,
                         weightTensor: Tensor? = nil, outChannels o: Int, bias: UnsafePointer<Float>?,
                         groups: Int, geometry geo: ConvGeometry, out: UnsafeMutablePointer<Float>,
                         tuning: ConvTuning = .standard) {
        _ = BLASThreading.pinned
        let og = o / groups
        let k = geo.rows, p = geo.cols
        let inPlane = geo.height * geo.width
        let direct = geo.kh == 1 && geo.kw == 1 && geo.sh == 1 && geo.sw == 1 && geo.padTop == 0 && geo.padLeft == 0
            && geo.outH == geo.height && geo.outW == geo.width
        // Fill the output with the bias (or zero); every GEMM then accumulates with beta = 1.
        @inline(__always) func fillBias(_ dst: UnsafeMutablePointer<Float>, channel0: Int, count: Int, cols p0: Int, _ p1: Int) {
            for oc in 0..<count {
                let v = bias?[channel0 + oc] ?? 0
                (dst + oc * p + p0).initialize(repeating: v, count: p1 - p0)
            }
        }
        let cores = Parallel.coreCount
        if let minC = tuning.winogradMinChannels, geo.kh == 3 && geo.kw == 3 && geo.sh == 1 && geo.sw == 1
            && geo.dh == 1 && geo.dw == 1 && geo.channels >= minC && og >= minC
            && p * (groups == 1 ? batch : 1) >= tuning.winogradMinPixels {
            winogradConvolve(x: x, batch: batch, inChannels: c, weight: weight, outChannels: o, bias: bias,
                             groups: groups, geometry: geo, out: out, blockFloats: tuning.winogradBlockFloats,
                             localBytes: tuning.winogradLocalBytes)
            return
        }
        if tuning.implicitIm2col && FewOutputConv.convolve(x: x, batch: batch, inChannels: c, weight: weight,
                                                           outChannels: o, bias: bias, groups: groups, geometry: geo,
                                                           out: out) {
            return
        }
        if tuning.implicitIm2col && !direct
            && ImplicitConvGEMM.convolve(x: x, batch: batch, inChannels: c, weight: weight, weightTensor: weightTensor,
                                         outChannels: o, bias: bias, groups: groups, geometry: geo, out: out) {
            return
        }
        // Without AVX-512 (or with `GANKIT_GEMM=openblas`) the im2col matrix is built, in one of three ways.
        // Columns of one wide im2col block, so big planes go in a few large pieces.
        let maxCols = max(16, tuning.blockFloats / max(k, 1))
        if !direct && cores > 1 && og >= 32
            && (og * k >= tuning.wideWeightFloats || k * p * (groups == 1 ? batch : 1) <= tuning.cachedBlockFloats)
            && Double(og) * Double(min(p * (groups == 1 ? batch : 1), maxCols)) * Double(k) >= tuning.wideWork {
            wideConvolve(x: x, batch: batch, inChannels: c, weight: weight, outChannels: o, bias: bias,
                         groups: groups, geometry: geo, maxCols: maxCols, out: out)
            return
        }
        if direct {
            let packed = weightTensor.flatMap {
                PackedWeights.shared.matrix(for: $0, rows: og, depth: k, groups: groups)
            }
            for b in 0..<batch {
                for gi in 0..<groups {
                    let xg = x + (b * c + gi * geo.channels) * inPlane
                    let dst = out + (b * o + gi * og) * p
                    parallelSgemm(m: og, n: p, k: k, a: weight + gi * og * k, lda: k, b: xg, ldb: p,
                                  c: dst, ldc: p, bias: bias.map { .perRow($0 + gi * og) } ?? .none,
                                  packedA: packed.map { PackedOperand($0, group: gi) })
                }
            }
            return
        }
        // Tile the output pixels: tiles of up to 4 MB of im2col (near the 2 MB/core L2 while the GEMM streams it),
        // and a tile count that is a multiple of the core count so no worker idles at the end.
        let budget = 1 << 20   // floats
        let items = batch * groups
        var perItem = max(1, (p + max(32, budget / max(k, 1)) - 1) / max(32, budget / max(k, 1)))
        let total0 = items * perItem
        let balanced = (total0 + cores - 1) / cores * cores
        perItem = max(perItem, (balanced + items - 1) / items)
        var tileCols = (p + perItem - 1) / perItem
        tileCols = min(p, max(16, (tileCols + 15) / 16 * 16))
        let tiles = (p + tileCols - 1) / tileCols
        let total = items * tiles
        if total >= cores || cores == 1 {
            Parallel.forEach(total) { t in
                let item = t / tiles, tile = t % tiles
                let b = item / groups, gi = item % groups
                let p0 = tile * tileCols, p1 = min(p, p0 + tileCols)
                let xg = x + (b * c + gi * geo.channels) * inPlane
                let dst = out + (b * o + gi * og) * p
                fillBias(dst, channel0: gi * og, count: og, cols: p0, p1)
                Scratch.withBuffer(k * (p1 - p0)) { col in
                    im2col(xg, geo, rows: 0, k, cols: p0, p1, into: col)
                    blasSgemm(m: og, n: p1 - p0, k: k, a: weight + gi * og * k, lda: k, b: col, ldb: p1 - p0,
                          beta: 1, c: dst + p0, ldc: p)
                }
            }
        } else {
            // A single small plane: build its im2col in parallel, then split the GEMM by output channels.
            for item in 0..<items {
                let b = item / groups, gi = item % groups
                let xg = x + (b * c + gi * geo.channels) * inPlane
                let dst = out + (b * o + gi * og) * p
                fillBias(dst, channel0: gi * og, count: og, cols: 0, p)
                Scratch.withBuffer(k * p) { col in
                    Parallel.forRanges(k, minChunk: max(1, 8192 / max(p, 1))) { r in
                        im2col(xg, geo, rows: r.lowerBound, r.upperBound, cols: 0, p, into: col)
                    }
                    parallelSgemm(m: og, n: p, k: k, a: weight + gi * og * k, lda: k, b: col, ldb: p,
                                  beta: 1, c: dst, ldc: p)
                }
            }
        }
    }

    /// Large convolutions: im2col blocks built on all cores, each multiplied once on all cores (`threadedSgemm`: the
    /// weight is packed once per block instead of once per tile). Planes smaller than a block are batched side
    /// by side (groups = 1) and their products scattered back to NCHW.
    static func wideConvolve(x: UnsafePointer<Float>, batch: Int, inChannels c: Int, weight: UnsafePointer<Float>,
                             outChannels o: Int, bias: UnsafePointer<Float>?, groups: Int, geometry geo: ConvGeometry,
                             maxCols: Int, out: UnsafeMutablePointer<Float>) {
        let og = o / groups
        let k = geo.rows, p = geo.cols
        let inPlane = geo.height * geo.width
        let rowChunk = max(1, 16384 / max(p, 1))
        if groups == 1 && batch > 1 && p < maxCols {
            let perBlock = min(batch, max(1, maxCols / p))
            var b0 = 0
            while b0 < batch {
                let nb = min(perBlock, batch - b0), cols = nb * p
                Scratch.withBuffer(k * cols + og * cols) { buf in
                    let col = buf, prod = buf + k * cols
                    Parallel.forRanges(k, minChunk: max(1, rowChunk / nb)) { r in
                        for s in 0..<nb {
                            im2col(x + (b0 + s) * c * inPlane, geo, rows: r.lowerBound, r.upperBound, cols: 0, p,
                                   into: col + s * p, ld: cols)
                        }
                    }
                    threadedSgemm(m: og, n: cols, k: k, a: weight, lda: k, b: col, ldb: cols, c: prod, ldc: cols)
                    scatterSideBySide(prod, images: nb, channels: og, pixels: p, bias: bias, into: out + b0 * o * p)
                }
                b0 += nb
            }
            return
        }
        let pieces = (p + maxCols - 1) / maxCols
        let pieceCols = min(p, ((p + pieces - 1) / pieces + 15) / 16 * 16)
        for item in 0..<(batch * groups) {
            let b = item / groups, gi = item % groups
            let xg = x + (b * c + gi * geo.channels) * inPlane
            let dst = out + (b * o + gi * og) * p
            let w = weight + gi * og * k
            var p0 = 0
            while p0 < p {
                let p1 = min(p, p0 + pieceCols), cols = p1 - p0
                Scratch.withBuffer(k * cols) { col in
                    Parallel.forRanges(k, minChunk: max(1, 16384 / max(cols, 1))) { r in
                        im2col(xg, geo, rows: r.lowerBound, r.upperBound, cols: p0, p1, into: col)
                    }
                    threadedSgemm(m: og, n: cols, k: k, a: w, lda: k, b: col, ldb: cols, c: dst + p0, ldc: p,
                                  bias: bias.map { .perRow($0 + gi * og) } ?? .none)
                }
                p0 = p1
            }
        }
    }

    /// 3×3 stride-1 convs as Winograd F(2×2, 3×3): weights and 4×4 input tiles are transformed, 16 GEMMs
    /// (one per transformed position, `O×C · C×tiles`) replace the im2col GEMM with 2.25× fewer multiplies, and
    /// each 4×4 product tile is transformed back into a 2×2 output block.
    /// Tiles go in blocks, in one of two ways. Phase by phase: blocks of ≤ `blockFloats` floats of transformed
    /// data, each phase of a block on all cores (the 16 GEMMs single-threaded side by side: the engine's blocked
    /// GEMM, else OpenBLAS). Local (few channels, where a plane's transformed data is far larger than the caches
    /// and the phase-by-phase form streams it through memory three times): each core takes blocks of
    /// `localBytes` through all three phases while the block stays in its L2. The GEMMs then span fewer tiles,
    /// which may change OpenBLAS' summation order (a few ulp; the blocked GEMM's sums do not depend on it).
    /// The transforms' coefficients are 0, ±1 and ±½ (exact in float); the result differs from the direct sum
    /// by rounding only (≈ 1e-7 of the output scale on the op tests).
    static func winogradConvolve(x: UnsafePointer<Float>, batch: Int, inChannels c: Int, weight: UnsafePointer<Float>,
                                 outChannels o: Int, bias: UnsafePointer<Float>?, groups: Int, geometry geo: ConvGeometry,
                                 out: UnsafeMutablePointer<Float>, blockFloats: Int, localBytes: Int) {
        let og = o / groups, cg = geo.channels
        let (h, w) = (geo.height, geo.width)
        // With one group, the tiles of all images form one sequence (small planes still make wide GEMMs).
        let images = groups == 1 ? batch : 1
        let tilesX = (geo.outW + 1) / 2, tilesPerImage = ((geo.outH + 1) / 2) * tilesX
        let tiles = tilesPerImage * images
        let localTiles = localBytes / (16 * (cg + og) * MemoryLayout<Float>.stride)
        let local = localTiles >= 128 && tiles >= 2 * Parallel.coreCount * localTiles
        let tb = local ? localTiles : min(tiles, max(32, blockFloats / (16 * max(cg, og))))
        // The 16 planes of each transformed array sit one cache line more than their size apart: planes a
        // power of two apart map every ξ of a tile to one L1 set (measured: the weight transform of 512×512
        // took 17 ms instead of ~1).
        let uPlane = og * cg + 16, vPlane = cg * tb + 16, mPlane = og * tb + 16
        let vmFloats = 16 * (vPlane + mPlane)   // one block's transformed input and products
        let outPlane = geo.outH * geo.outW
        Scratch.withBuffer(16 * uPlane + (local ? 0 : vmFloats)) { buf in
            let u = buf
            for gi in 0..<groups {
                let wg = weight + gi * og * cg * 9
                Parallel.forRanges(og, minChunk: max(1, 8192 / max(cg, 1))) { r in
                    ek_wino_weights(u, uPlane, wg, cg, r.lowerBound, r.upperBound)
                }
                let groupBias = bias.map { $0 + gi * og }
                for b in stride(from: 0, to: batch, by: images) {
                    let xg = x + (b * c + gi * cg) * h * w
                    let dst = out + (b * o + gi * og) * outPlane
                    // Tiles t0 ..< t1 through the three phases, in v and m; `onAllCores` spreads each phase.
                    func block(_ t0: Int, _ t1: Int, _ v: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<Float>,
                               onAllCores: Bool) {
                        let n = t1 - t0
                        func ranges(_ count: Int, minChunk: Int, _ body: (Range<Int>) -> Void) {
                            if onAllCores { Parallel.forRanges(count, minChunk: minChunk, body) } else { body(0..<count) }
                        }
                        ranges(cg, minChunk: max(1, 4096 / max(n, 1))) { r in
                            ek_wino_input(v, n, vPlane, xg, c * h * w, h, w, geo.padTop, geo.padLeft, tilesX,
                                          tilesPerImage, t0, t1, r.lowerBound, r.upperBound)
                        }
                        ranges(16, minChunk: 1) { r in
                            for xi in r {
                                let (a, b, c) = (u + xi * uPlane, v + xi * vPlane, m + xi * mPlane)
                                if !blockedSgemm(transA: false, transB: false, m: og, n: n, k: cg, alpha: 1, a: a,
                                                 lda: cg, b: b, ldb: n, beta: 0, c: c, ldc: n, parts: 1) {
                                    blasSgemm(m: og, n: n, k: cg, a: a, lda: cg, b: b, ldb: n, c: c, ldc: n)
                                }
                            }
                        }
                        ranges(og, minChunk: max(1, 4096 / max(n, 1))) { r in
                            ek_wino_output(dst, o * outPlane, m, n, mPlane, geo.outH, geo.outW, tilesX, tilesPerImage,
                                           t0, t1, r.lowerBound, r.upperBound, groupBias)
                        }
                    }
                    if local {
                        Parallel.forEach((tiles + tb - 1) / tb) { i in
                            Scratch.withBuffer(vmFloats) { vm in
                                block(i * tb, min(tiles, i * tb + tb), vm, vm + 16 * vPlane, onAllCores: false)
                            }
                        }
                    } else {
                        let v = buf + 16 * uPlane
                        for t0 in stride(from: 0, to: tiles, by: tb) {
                            block(t0, min(tiles, t0 + tb), v, v + 16 * vPlane, onAllCores: true)
                        }
                    }
                }
            }
        }
    }
}
