import Testing
import Foundation
import TensorStore
import CEngineKernels
@testable import Engine

/// Convolutions with 1–6 output channels per group take the direct kernel: it must match a double-precision
/// sum for every geometry it handles — strides (the gathered form), dilation, asymmetric padding wider than the
/// kernel, rows longer than one 64-pixel block, several pixel chunks per plane, groups and batches, 1×1 heads.
@Suite("Few-output direct convolution")
struct FewOutputConvTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var outPerGroup: Int, groups = 1, batch = 1, inPerGroup: Int
        var size: (h: Int, w: Int), kernel: (h: Int, w: Int), stride: (h: Int, w: Int) = (1, 1)
        var dilation: (h: Int, w: Int) = (1, 1), pad: (t: Int, b: Int, l: Int, r: Int)
        var testDescription: String {
            "\(inPerGroup)→\(outPerGroup) ×\(groups) groups, batch \(batch), \(size.h)×\(size.w), k\(kernel.h)×\(kernel.w) "
                + "s\(stride.h),\(stride.w) d\(dilation.h),\(dilation.w) pad \(pad.t),\(pad.b),\(pad.l),\(pad.r)"
        }
    }

    static let cases = [
        // BigGAN's conv_to_rgb: 3×3, 3 outputs, rows of 130 pixels (three blocks, the last partial).
        Case(outPerGroup: 3, inPerGroup: 16, size: (9, 130), kernel: (3, 3), pad: (1, 1, 1, 1)),
        // StyleGAN's toRGB: 1×1, batch of two.
        Case(outPerGroup: 3, batch: 2, inPerGroup: 24, size: (16, 16), kernel: (1, 1), pad: (0, 0, 0, 0)),
        // Every channel count, with stride 2 (gathers), asymmetric padding and a 4×4 kernel.
        Case(outPerGroup: 1, inPerGroup: 5, size: (11, 13), kernel: (4, 4), stride: (2, 2), pad: (2, 1, 0, 3)),
        Case(outPerGroup: 2, inPerGroup: 7, size: (10, 70), kernel: (3, 5), stride: (1, 3), dilation: (2, 2),
             pad: (3, 0, 2, 2)),
        Case(outPerGroup: 4, groups: 2, batch: 2, inPerGroup: 3, size: (8, 9), kernel: (3, 3), pad: (1, 1, 1, 1)),
        Case(outPerGroup: 5, inPerGroup: 2, size: (6, 6), kernel: (2, 2), stride: (3, 1), pad: (4, 4, 4, 4)),
        // Depthwise (one output per group), and a tall plane cut into several chunks.
        Case(outPerGroup: 1, groups: 8, inPerGroup: 1, size: (40, 40), kernel: (3, 3), pad: (1, 1, 1, 1)),
        Case(outPerGroup: 6, inPerGroup: 3, size: (300, 20), kernel: (3, 1), dilation: (3, 1), pad: (0, 2, 0, 0)),
        // Rows of several whole AVX2 blocks (48, 16 and 16 pixels for 1, 4 and 5 outputs) and a shorter last one,
        // with stride 2 (gathers) for 4 outputs.
        Case(outPerGroup: 1, inPerGroup: 3, size: (5, 150), kernel: (3, 3), pad: (1, 1, 1, 1)),
        Case(outPerGroup: 4, inPerGroup: 3, size: (4, 100), kernel: (3, 3), stride: (1, 2), pad: (1, 1, 1, 1)),
        Case(outPerGroup: 5, inPerGroup: 2, size: (3, 40), kernel: (1, 3), pad: (0, 0, 0, 0)),
    ]

    @Test(arguments: cases)
    func matchesDirectSum(c: Case) throws {
        let cin = c.inPerGroup * c.groups, cout = c.outPerGroup * c.groups
        let x = Tensor(shape: [c.batch, cin, c.size.h, c.size.w],
                       floats: (0..<(c.batch * cin * c.size.h * c.size.w)).map { Float(($0 * 7919) % 113) / 113 - 0.5 })
        let w = Tensor(shape: [cout, c.inPerGroup, c.kernel.h, c.kernel.w],
                       floats: (0..<(cout * c.inPerGroup * c.kernel.h * c.kernel.w)).map { Float(($0 * 104729) % 97) / 97 - 0.5 })
        let bias = Tensor(shape: [cout], floats: (0..<cout).map { Float($0) / 4 - 1 })
        let padding = Padding2D(top: c.pad.t, bottom: c.pad.b, left: c.pad.l, right: c.pad.r)
        let y = try Ops.conv2d(x, weight: w, bias: bias, stride: Size2(c.stride.h, c.stride.w), padding: padding,
                               dilation: Size2(c.dilation.h, c.dilation.w), groups: c.groups)
        let oh = (c.size.h + c.pad.t + c.pad.b - c.dilation.h * (c.kernel.h - 1) - 1) / c.stride.h + 1
        let ow = (c.size.w + c.pad.l + c.pad.r - c.dilation.w * (c.kernel.w - 1) - 1) / c.stride.w + 1
        #expect(y.shape == [c.batch, cout, oh, ow])
        let xs = x.floats(), ws = w.floats(), bs = bias.floats(), got = y.floats()
        var worst = 0.0
        for b in 0..<c.batch { for oc in 0..<cout { for oy in 0..<oh { for ox in 0..<ow {
            let g = oc / c.outPerGroup
            var acc = Double(bs[oc])
            for ci in 0..<c.inPerGroup { for ky in 0..<c.kernel.h { for kx in 0..<c.kernel.w {
                let iy = oy * c.stride.h - c.pad.t + ky * c.dilation.h, ix = ox * c.stride.w - c.pad.l + kx * c.dilation.w
                if iy < 0 || iy >= c.size.h || ix < 0 || ix >= c.size.w { continue }
                acc += Double(xs[((b * cin + g * c.inPerGroup + ci) * c.size.h + iy) * c.size.w + ix])
                    * Double(ws[((oc * c.inPerGroup + ci) * c.kernel.h + ky) * c.kernel.w + kx])
            } } }
            worst = max(worst, abs(Double(got[((b * cout + oc) * oh + oy) * ow + ox]) - acc))
        } } } }
        #expect(worst < 1e-4, "worst difference \(worst)")
    }

    /// On AVX-512 and AVX2+FMA CPUs these shapes take the direct kernel (not the GEMM paths the other tests
    /// cover), and more than six outputs per group do not.
    @Test func takesTheDirectKernelUpToSixOutputs() throws {
        #expect(FewOutputConv.enabled == (ek_kernel_level() >= 2 && getenv("GANKIT_GEMM").map { String(cString: $0) } != "openblas"))
        let geo = ConvGeometry(channels: 2, height: 5, width: 5, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, padTop: 1,
                               padLeft: 1, outH: 5, outW: 5)
        let x = [Float](repeating: 1, count: 50), w = [Float](repeating: 0.5, count: 7 * 18)
        var out = [Float](repeating: .nan, count: 7 * 25)
        for o in [1, 6, 7] {
            let ran = x.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { wp in
                    out.withUnsafeMutableBufferPointer { op in
                        FewOutputConv.convolve(x: xp.baseAddress!, batch: 1, inChannels: 2, weight: wp.baseAddress!,
                                               outChannels: o, bias: nil, groups: 1, geometry: geo, out: op.baseAddress!)
                    }
                }
            }
            #expect(ran == (FewOutputConv.enabled && o <= 6), "\(o) outputs")
            if ran {
                // The centre pixel sees all 18 inputs, a corner 8.
                #expect(out[12] == 9 && out[0] == 4, "\(o) outputs: centre \(out[12]), corner \(out[0])")
            }
        }
    }
}
