import Testing
import TensorStore
import CEngineKernels
@testable import Engine

@Suite("Linear, matmul and convolutions against PyTorch")
struct LinearConvTests {
    @Test func linear() throws {
        let g = try Golden("linear")
        expectClose(try Ops.linear(g["x"], weight: g["weight"], bias: g["bias"]), try g["out"], "linear")
        let h = try Golden("linear_nobias")
        expectClose(try Ops.linear(h["x"], weight: h["weight"]), try h["out"], "linear without bias")
    }

    /// Up to 8 rows take the vector kernel (AVX-512 or AVX2: tiles of several outputs, masked tail of the inputs,
    /// leftover outputs); it must agree with the GEMM path for every row count.
    @Test(arguments: 1...8)
    func smallBatchLinearMatchesGEMM(rows: Int) throws {
        let (inF, outF) = (70, 37)
        let x = Tensor(shape: [rows, inF], floats: (0..<(rows * inF)).map { Float(($0 * 7919) % 113) / 113 - 0.5 })
        let w = Tensor(shape: [outF, inF], floats: (0..<(outF * inF)).map { Float(($0 * 104729) % 97) / 97 - 0.5 })
        let b = Tensor(shape: [outF], floats: (0..<outF).map { Float($0) / 10 - 1 })
        let y = try Ops.linear(x, weight: w, bias: b)
        let reference = try Ops.add(try Ops.matmul(x, w, transposeB: true), b)
        let worst = zip(y.floats(), reference.floats()).map { abs($0 - $1) }.max() ?? .infinity
        #expect(y.shape == [rows, outF])
        #expect(worst < 1e-5, "worst difference \(worst)")
    }

    @Test func matmul() throws {
        let g = try Golden("matmul_batched")
        expectClose(try Ops.matmul(g["a"], g["b"]), try g["out"], "batched matmul")
        let t = try Golden("matmul_transb")
        expectClose(try Ops.matmul(t["a"], t["b"], transposeB: true), try t["out"], "matmul Bᵀ")
    }

    @Test(arguments: ["conv_k3_s1_p1", "conv_k3_s2_same_asym", "conv_k5_dil2", "conv_groups2", "conv_1x1",
                      "conv_depthwise", "conv_k4_s2_p1", "conv_k3_rect_stride", "conv_big", "conv_perSampleGroups"])
    func conv2d(name: String) throws {
        let g = try Golden(name)
        let s = try g.ints("stride"), d = try g.ints("dilation")
        let y = try Ops.conv2d(g["x"], weight: g["weight"], bias: g.has("bias") ? g["bias"] : nil,
                               stride: Size2(s[0], s[1]), padding: Padding2D(tblr: try g.ints("padding")),
                               dilation: Size2(d[0], d[1]), groups: try g.ints("groups")[0])
        expectClose(y, try g["out"], name)
        // The im2col strategies (what runs without AVX2) against the same golden.
        var built = ConvTuning.standard
        built.implicitIm2col = false
        let z = try Ops.conv2d(g["x"], weight: g["weight"], bias: g.has("bias") ? g["bias"] : nil,
                               stride: Size2(s[0], s[1]), padding: Padding2D(tblr: try g.ints("padding")),
                               dilation: Size2(d[0], d[1]), groups: try g.ints("groups")[0], tuning: built)
        expectClose(z, try g["out"], name + " (im2col built)")
    }

    @Test(arguments: ["convt_k4_s2_p1", "convt_k4_s1_p0_dcgan_first", "convt_k5_s2_p2_op1", "convt_k3_s2_groups2",
                      "convt_k3_dil2", "convt_k3_s2_p0_sg2"])
    func convTranspose2d(name: String) throws {
        let g = try Golden(name)
        let s = try g.ints("stride"), op = try g.ints("output_padding"), d = try g.ints("dilation")
        let y = try Ops.convTranspose2d(g["x"], weight: g["weight"], bias: g.has("bias") ? g["bias"] : nil,
                                        stride: Size2(s[0], s[1]), padding: Padding2D(tblr: try g.ints("padding")),
                                        outputPadding: Size2(op[0], op[1]), dilation: Size2(d[0], d[1]),
                                        groups: try g.ints("groups")[0])
        expectClose(y, try g["out"], name)
    }

    @Test(arguments: ["modconv_demod", "modconv_nodemod_1x1", "modconv_full_pad"])
    func modulatedConv(name: String) throws {
        let g = try Golden(name)
        let demod = name != "modconv_nodemod_1x1"
        let pad = Padding2D(try g.ints("padding")[0])
        for fused in [true, false] {
            let y = try Ops.modulatedConv2d(g["x"], weight: g["weight"], styles: g["styles"], demodulate: demod,
                                            padding: pad, fused: fused)
            expectClose(y, try g["out"], "\(name) fused=\(fused)")
        }
    }

    /// Demodulation from norms computed once (as models do at load) gives the same bits as computing them per
    /// call, the coefficients match a double-precision formula, and norms of the wrong size are refused.
    @Test func precomputedNormsGiveTheSameModulatedWeights() throws {
        let (o, i, n) = (5, 7, 3)
        let w = Tensor(shape: [o, i, 3, 3], floats: (0..<(o * i * 9)).map { Float(($0 * 104729) % 97) / 97 - 0.5 })
        let s = Tensor(shape: [n, i], floats: (0..<(n * i)).map { Float(($0 * 7919) % 113) / 56 - 1 })
        let norms = try Ops.squaredKernelNorms(weight: w)
        let ws = w.floats(), ss = s.floats()
        #expect(norms.count == o * i)
        #expect(abs(norms[o * i - 1] - (0..<9).map { ws[(o * i - 1) * 9 + $0] * ws[(o * i - 1) * 9 + $0] }.reduce(0, +)) < 1e-6)
        let once = try Ops.modulatedWeights(weight: w, styles: s, squaredNorms: norms)
        let perCall = try Ops.modulatedWeights(weight: w, styles: s)
        #expect(once.floats() == perCall.floats())
        let d = try Ops.demodulationCoefficients(weight: w, styles: s).floats()
        for b in 0..<n { for oc in 0..<o {
            var acc = 0.0
            for ic in 0..<i { for t in 0..<9 { let v = Double(ws[(oc * i + ic) * 9 + t]) * Double(ss[b * i + ic]); acc += v * v } }
            #expect(abs(Double(d[b * o + oc]) - 1 / (acc + 1e-8).squareRoot()) < 1e-5 / (acc + 1e-8).squareRoot())
        } }
        #expect(throws: EngineError.self) { try Ops.modulatedWeights(weight: w, styles: s, squaredNorms: [1, 2, 3]) }
    }

    @Test func largeConvMatchesDirectSum() throws {
        // A shape big enough to use several im2col tiles per worker, checked against a direct loop.
        let x = Tensor(shape: [1, 40, 45, 47], floats: (0..<(40 * 45 * 47)).map { Float(($0 * 7919) % 113) / 113 - 0.5 })
        let w = Tensor(shape: [24, 40, 3, 3], floats: (0..<(24 * 40 * 9)).map { Float(($0 * 104729) % 97) / 97 - 0.5 })
        let y = try Ops.conv2d(x, weight: w, stride: 2, padding: Padding2D(top: 1, bottom: 0, left: 2, right: 1))
        let xs = x.floats(), ws = w.floats(), ys = y.floats()
        let (oh, ow) = (y.shape[2], y.shape[3])
        #expect(oh == 22 && ow == 24)
        var worst: Float = 0
        for o in 0..<24 { for oy in 0..<oh { for ox in 0..<ow {
            var acc: Double = 0
            for c in 0..<40 { for ky in 0..<3 { for kx in 0..<3 {
                let iy = oy * 2 - 1 + ky, ix = ox * 2 - 2 + kx
                if iy < 0 || iy >= 45 || ix < 0 || ix >= 47 { continue }
                acc += Double(xs[(c * 45 + iy) * 47 + ix]) * Double(ws[((o * 40 + c) * 3 + ky) * 3 + kx])
            } } }
            worst = max(worst, abs(Float(acc) - ys[(o * oh + oy) * ow + ox]))
        } } }
        #expect(worst < 1e-4)
    }

    /// im2col is a copy: for strides 1–3 (stride 2 has its own vector gather), dilation, asymmetric padding
    /// and widths that end a vector early, every element equals the input pixel it names, or zero outside.
    @Test(arguments: [(1, 1), (2, 1), (2, 2), (3, 1)])
    func im2colCopiesEveryWindow(stride: Int, dilation: Int) {
        let (c, h, w) = (3, 9, 37)
        let x = (0..<(c * h * w)).map { Float($0) + 1 }
        for (pt, pl, k) in [(0, 0, 1), (1, 2, 3), (3, 5, 4)] {
            let outH = (h + 2 * pt - dilation * (k - 1) - 1) / stride + 1
            let outW = (w + 2 * pl - dilation * (k - 1) - 1) / stride + 1
            let g = ConvGeometry(channels: c, height: h, width: w, kh: k, kw: k, sh: stride, sw: stride,
                                 dh: dilation, dw: dilation, padTop: pt, padLeft: pl, outH: outH, outW: outW)
            var col = [Float](repeating: .nan, count: g.rows * g.cols)
            x.withUnsafeBufferPointer { xp in
                col.withUnsafeMutableBufferPointer { cp in
                    im2col(xp.baseAddress!, g, rows: 0, g.rows, cols: 0, g.cols, into: cp.baseAddress!)
                }
            }
            var wrong = 0
            for r in 0..<g.rows {
                let ch = r / (k * k), ky = (r / k) % k, kx = r % k
                for p in 0..<g.cols {
                    let iy = (p / outW) * stride - pt + ky * dilation, ix = (p % outW) * stride - pl + kx * dilation
                    let want: Float = iy < 0 || iy >= h || ix < 0 || ix >= w ? 0 : x[(ch * h + iy) * w + ix]
                    if col[r * g.cols + p] != want { wrong += 1 }
                }
            }
            #expect(wrong == 0, "stride \(stride) dilation \(dilation) pad \(pt),\(pl) kernel \(k)")
        }
    }

    /// Direct-loop conv2d (double accumulation) for checking the GEMM paths.
    static func directConv(_ x: Tensor, _ w: Tensor, bias: Tensor?, stride: Int, pad: Int, groups: Int) -> [Float] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let oh = (h + 2 * pad - kh) / stride + 1, ow = (wd + 2 * pad - kw) / stride + 1
        let xs = x.floats(), ws = w.floats(), bs = bias?.floats()
        let og = o / groups
        var out = [Float](repeating: 0, count: n * o * oh * ow)
        for b in 0..<n { for oc in 0..<o { for oy in 0..<oh { for ox in 0..<ow {
            var acc = Double(bs?[oc] ?? 0)
            let g = oc / og
            for ci in 0..<cg { for ky in 0..<kh { for kx in 0..<kw {
                let iy = oy * stride - pad + ky, ix = ox * stride - pad + kx
                if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
                acc += Double(xs[((b * c + g * cg + ci) * h + iy) * wd + ix]) * Double(ws[((oc * cg + ci) * kh + ky) * kw + kx])
            } } }
            out[((b * o + oc) * oh + oy) * ow + ox] = Float(acc)
        } } } }
        return out
    }

    /// Winograd F(2×2, 3×3) matches the im2col path: odd output sizes (partial 2×2 blocks), asymmetric padding,
    /// per-sample groups, tiles in several blocks, with and without bias; rows ≥ 67 wide also take the 16-tile
    /// vector transforms (AVX-512), rows ≥ 19 wide the 8-tile ones (AVX2).
    @Test(arguments: [(1, 1, 13, 11, 1, 1, true), (2, 1, 9, 10, 0, 2, false), (2, 2, 8, 7, 1, 0, true),
                      (1, 1, 9, 70, 1, 1, true), (1, 1, 12, 67, 2, 0, false)])
    func winogradMatchesDirectSum(batch: Int, groups: Int, height: Int, width: Int, padTop: Int, padLeft: Int,
                                  withBias: Bool) throws {
        let (c, o) = (32 * groups, 40 * groups)
        let x = Tensor(shape: [batch, c, height, width],
                       floats: (0..<(batch * c * height * width)).map { Float(($0 * 7919) % 113) / 113 - 0.5 })
        let w = Tensor(shape: [o, c / groups, 3, 3], floats: (0..<(o * c / groups * 9)).map { Float(($0 * 104729) % 97) / 97 - 0.5 })
        let bias = withBias ? Tensor(shape: [o], floats: (0..<o).map { Float($0) / 10 - 1 }) : nil
        let pad = Padding2D(top: padTop, bottom: 2 - padTop, left: padLeft, right: 2 - padLeft)
        // Blocks of 32 tiles: the 7×6 tiles of a 13×11 output go in two.
        let tuning = ConvTuning(winogradMinChannels: 32, winogradMinPixels: 1, winogradBlockFloats: 1)
        let y = try Ops.conv2d(x, weight: w, bias: bias, stride: 1, padding: pad, dilation: 1, groups: groups, tuning: tuning)
        var plain = ConvTuning(); plain.winogradMinChannels = nil
        let reference = try Ops.conv2d(x, weight: w, bias: bias, stride: 1, padding: pad, dilation: 1, groups: groups, tuning: plain)
        #expect(y.shape == reference.shape && y.shape == [batch, o, height, width])
        // The im2col path is checked against a direct loop elsewhere; Winograd only changes rounding.
        let worst = zip(y.floats(), reference.floats()).map { abs($0 - $1) }.max() ?? .infinity
        let scale = reference.floats().map { abs($0) }.max() ?? 1
        #expect(worst <= 1e-5 * scale, "worst difference \(worst) at output scale \(scale)")
    }

    /// Winograd in per-core blocks (few channels, large planes) matches the im2col path: a partial last block,
    /// odd output sizes, asymmetric padding, bias, two images of one sequence.
    @Test(arguments: [(1, 47, true), (2, 33, false)])
    func winogradLocalBlocksMatchIm2col(batch: Int, height: Int, withBias: Bool) throws {
        let (c, o) = (32, 40)
        // Wide enough for two 128-tile blocks per core and a partial one, with an odd width.
        let tileRows = batch * ((height + 1) / 2)
        let width = 2 * ((2 * Parallel.coreCount * 128 + 37 + tileRows - 1) / tileRows) - 1
        let x = Tensor(shape: [batch, c, height, width],
                       floats: (0..<(batch * c * height * width)).map { Float(($0 * 7919) % 113) / 113 - 0.5 })
        let w = Tensor(shape: [o, c, 3, 3], floats: (0..<(o * c * 9)).map { Float(($0 * 104729) % 97) / 97 - 0.5 })
        let bias = withBias ? Tensor(shape: [o], floats: (0..<o).map { Float($0) / 10 - 1 }) : nil
        let pad = Padding2D(top: 1, bottom: 1, left: 2, right: 0)
        // 128 tiles a block (16·72 floats per tile): at least two blocks per core.
        let tuning = ConvTuning(winogradMinChannels: 32, winogradMinPixels: 1, winogradLocalBytes: 128 * 16 * 72 * 4)
        #expect(tileRows * ((width + 1) / 2) >= 2 * Parallel.coreCount * 128)
        let y = try Ops.conv2d(x, weight: w, bias: bias, stride: 1, padding: pad, dilation: 1, groups: 1, tuning: tuning)
        var plain = ConvTuning(); plain.winogradMinChannels = nil
        let reference = try Ops.conv2d(x, weight: w, bias: bias, stride: 1, padding: pad, dilation: 1, groups: 1, tuning: plain)
        #expect(y.shape == reference.shape && y.shape == [batch, o, height, width])
        let worst = zip(y.floats(), reference.floats()).map { abs($0 - $1) }.max() ?? .infinity
        let scale = reference.floats().map { abs($0) }.max() ?? 1
        #expect(worst <= 1e-5 * scale, "worst difference \(worst) at output scale \(scale)")
        // The phase-by-phase form agrees to rounding (same transforms; OpenBLAS may order a GEMM over fewer
        // tiles differently).
        var phased = tuning; phased.winogradLocalBytes = 0
        let z = try Ops.conv2d(x, weight: w, bias: bias, stride: 1, padding: pad, dilation: 1, groups: 1, tuning: phased)
        let worstPhased = zip(y.floats(), z.floats()).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worstPhased <= 1e-6 * scale, "local blocks against phases: \(worstPhased)")
    }

    /// Padded convs whose 8-column groups straddle output rows (17- and 13-wide outputs), at strides 1 and 2:
    /// on AVX2 the implicit GEMM gathers from a zero-padded copy of the image, two runs per group by plain loads
    /// blended at the row boundary; the result matches a direct loop.
    @Test(arguments: [(4, 2, 2, 32), (3, 2, 1, 33), (3, 1, 1, 13), (5, 1, 2, 17)])
    func paddedGatherSourceMatchesDirectSum(kernel: Int, stride: Int, pad: Int, size: Int) throws {
        let (c, o) = (6, 24)
        let x = Tensor(shape: [1, c, size, size], floats: (0..<(c * size * size)).map { Float(($0 * 7919) % 113) / 113 - 0.5 })
        let w = Tensor(shape: [o, c, kernel, kernel],
                       floats: (0..<(o * c * kernel * kernel)).map { Float(($0 * 104729) % 97) / 97 - 0.5 })
        let bias = Tensor(shape: [o], floats: (0..<o).map { Float($0) / 10 - 1 })
        let y = try Ops.conv2d(x, weight: w, bias: bias, stride: Size2(stride), padding: Padding2D(pad))
        let want = Self.directConv(x, w, bias: bias, stride: stride, pad: pad, groups: 1)
        let worst = zip(y.floats(), want).map { abs($0 - $1) }.max() ?? .infinity
        #expect(y.elementCount == want.count && worst < 1e-4, "worst difference \(worst)")
        if ek_kernel_level() == 2 && BlockedGEMM.enabled {
            let out = (size + 2 * pad - kernel) / stride + 1
            let g = ConvGeometry(channels: c, height: size, width: size, kh: kernel, kw: kernel, sh: stride, sw: stride,
                                 dh: 1, dw: 1, padTop: pad, padLeft: pad, outH: out, outW: out)
            let prefers = x.floats().withUnsafeBufferPointer { xp in
                var source = ImplicitConvGEMM.source(xp.baseAddress!, g)
                return ek_conv_prefers_padded(&source) != 0
            }
            #expect(prefers, "AVX2 takes the padded copy")
        }
    }

    /// The wide strategy (whole-plane im2col on all cores, one threaded GEMM per block) in each of its forms —
    /// several blocks per plane, several planes per block, one group per sample — matches a direct loop; so does
    /// the implicit-im2col GEMM in each of its forms (a plane on all cores, planes side by side, one group per
    /// sample, many small items one per core).
    @Test(arguments: [(1, 1, 31, true), (3, 1, 7, true), (3, 1, 7, false), (2, 2, 12, true), (3, 4, 5, true)],
          [false, true])
    func wideConvMatchesDirectSum(shape: (batch: Int, groups: Int, size: Int, withBias: Bool), implicit: Bool) throws {
        let (batch, groups, size, withBias) = shape
        let (c, o) = (8 * groups, 40 * groups)
        let x = Tensor(shape: [batch, c, size, size], floats: (0..<(batch * c * size * size)).map { Float(($0 * 7919) % 113) / 113 - 0.5 })
        let w = Tensor(shape: [o, c / groups, 3, 3], floats: (0..<(o * c / groups * 9)).map { Float(($0 * 104729) % 97) / 97 - 0.5 })
        let bias = withBias ? Tensor(shape: [o], floats: (0..<o).map { Float($0) / 10 - 1 }) : nil
        // Blocks of 100 columns (K = 72): 31² and 12² planes go in several pieces, 7² planes two per block.
        var tuning = ConvTuning(blockFloats: 72 * 100, wideWork: 0, wideWeightFloats: 0, cachedBlockFloats: 0)
        tuning.implicitIm2col = implicit
        let y = try Ops.conv2d(x, weight: w, bias: bias, stride: 1, padding: 1, dilation: 1, groups: groups, tuning: tuning)
        let want = Self.directConv(x, w, bias: bias, stride: 1, pad: 1, groups: groups)
        let got = y.floats()
        #expect(got.count == want.count)
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 1e-4, "worst difference \(worst)")
    }
}

@Suite("StyleGAN2 conv2d_resample paths")
struct Conv2dResampleTests {
    @Test(arguments: ["resample_up2_k3", "resample_down2_k3", "resample_down2_k1", "resample_up2_groups"])
    func resample(name: String) throws {
        let g = try Golden(name)
        let up = try g.ints("up")[0]
        let groups = g.has("p.groups") ? try g.ints("groups")[0] : 1
        // StyleGAN2 layers flip the kernel (true convolution) only when not upsampling.
        let y = try Ops.conv2dResample(g["x"], weight: g["weight"], filter: g["filter"], up: up,
                                       down: try g.ints("down")[0], padding: try g.ints("padding")[0],
                                       groups: groups, flipWeight: up == 1)
        let expected = try g["out"]
        expectClose(y, expected, name)
        let kernel = try g["weight"].shape[2]
        if up == 1 && kernel > 1 {
            // flipWeight: false means a true convolution: a 3×3 random kernel must then give another result.
            let z = try Ops.conv2dResample(g["x"], weight: g["weight"], filter: g["filter"], down: try g.ints("down")[0],
                                           padding: try g.ints("padding")[0], groups: groups, flipWeight: false)
            #expect(relativeError(z, expected) > 1e-3, "a flipped kernel must give a different result")
        }
    }
}
