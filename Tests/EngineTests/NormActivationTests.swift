import Testing
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TensorStore
@testable import Engine
import CEngineKernels

@Suite("Norms, activations, bias_act and resampling against PyTorch")
struct NormActivationTests {
    @Test func batchNorm() throws {
        let g = try Golden("batch_norm")
        expectClose(try Ops.batchNorm(g["x"], mean: g["mean"], variance: g["var"], weight: g["weight"], bias: g["bias"],
                                      eps: try g.float("eps")), try g["out"], "batch_norm")
    }

    @Test func instanceAndLayerNorm() throws {
        let g = try Golden("instance_norm")
        expectClose(try Ops.instanceNorm(g["x"], weight: g["weight"], bias: g["bias"], eps: try g.float("eps")),
                    try g["out"], "instance_norm")
        let l = try Golden("layer_norm")
        expectClose(try Ops.layerNorm(l["x"], normalizedDims: 2, weight: l["weight"], bias: l["bias"], eps: try l.float("eps")),
                    try l["out"], "layer_norm")
    }

    @Test func secondMomentNorms() throws {
        let r = try Golden("rms_norm")
        expectClose(try Ops.rmsNorm(r["x"], weight: r["weight"], eps: try r.float("eps")), try r["out"], "rms_norm")
        let p = try Golden("pixel_norm")
        expectClose(try Ops.pixelNorm(p["x"], dim: 1, eps: 1e-8), try p["out"], "pixel_norm")
        let n = try Golden("l2_normalize")
        expectClose(try Ops.l2Normalize(n["x"], dim: 1), try n["out"], "F.normalize")
    }

    @Test func activations() throws {
        let g = try Golden("activations")
        let x = try g["x"]
        let cases: [(String, Activation)] = [("relu", .relu), ("lrelu02", .lrelu), ("lrelu001", .leakyRelu(slope: 0.01)),
                                             ("lrelu03", .leakyRelu(slope: 0.3)), ("selu", .selu), ("elu", .elu),
                                             ("tanh", .tanh), ("sigmoid", .sigmoid), ("gelu", .gelu), ("silu", .silu),
                                             ("softplus", .softplus)]
        for (name, act) in cases { expectClose(Ops.activation(x, act), try g[name], name) }
    }

    /// The vector tanh against double precision over ±12 (the clamp, the tiny-|x| branch, a 16-lane tail),
    /// and in place.
    @Test func tanhAgainstDouble() throws {
        let xs = (0..<240_007).map { Float(-12 + Double($0) * 1e-4) } + [0, -0, 3e-4, -3e-4, 5e-4, .infinity, -.infinity]
        let y = Ops.tanh(Tensor(shape: [xs.count], floats: xs)).floats()
        var worst = 0.0
        for (x, v) in zip(xs, y) { worst = max(worst, abs(Double(v) - Foundation.tanh(Double(x)))) }
        #expect(worst < 3e-7, "worst absolute difference \(worst)")
        var inPlace = xs
        inPlace.withUnsafeMutableBufferPointer { tanhParallel($0.baseAddress!, $0.baseAddress!, $0.count) }
        #expect(inPlace == y, "in place differs")
        #expect(Ops.tanh(Tensor(shape: [1], floats: [.nan])).floats()[0].isNaN)
    }

    /// The lrelu-gain-clamp kernel lets NaN through on every path, as torch does (AVX-512 once clamped it to `lo`).
    @Test func lreluGainClampPassesNaN() {
        var x: [Float] = [.nan, -2, 3, .nan, 1e30, -1e30] + Array(repeating: .nan, count: 13)
        x.withUnsafeMutableBufferPointer { ek_lrelu_gain_clamp($0.baseAddress!, $0.count, 0.2, 2, -256, 256) }
        #expect(x[0].isNaN && x[3].isNaN && x[6...].allSatisfy(\.isNaN))
        #expect(x[1] == -0.8 && x[2] == 6 && x[4] == 256 && x[5] == -256)
    }

    @Test func biasAct() throws {
        let a = try Golden("bias_act_lrelu_clamp")
        let y = try Ops.biasAct(a["x"], bias: a["bias"], activation: .lrelu, clamp: try a.float("clamp"))
        expectClose(y, try a["out"], "bias_act lrelu clamp")
        #expect(y.floats().contains(256), "the clamp must be reached by this golden")
        let l = try Golden("bias_act_linear")
        expectClose(try Ops.biasAct(l["x"], bias: l["bias"]), try l["out"], "bias_act linear")
        let r = try Golden("bias_act_relu_gain")
        expectClose(try Ops.biasAct(r["x"], bias: r["bias"], activation: .relu, gain: try r.float("gain"),
                                    clamp: try r.float("clamp")), try r["out"], "bias_act relu gain clamp")
    }

    @Test func resampling() throws {
        expectClose(try Ops.upsampleNearest(Golden("upsample_nearest2")["x"], scale: 2), try Golden("upsample_nearest2")["out"], "nearest ×2")
        let b = try Golden("upsample_bilinear2")
        expectClose(try Ops.upsampleBilinear(b["x"], scale: 2), try b["out"], "bilinear ×2")
        let s = try Golden("upsample_bilinear_size")
        let size = try s.ints("size")
        expectClose(try Ops.upsampleBilinear(s["x"], size: Size2(size[0], size[1])), try s["out"], "bilinear to size")
        let m = try Golden("max_pool2")
        expectClose(try Ops.maxPool2d(m["x"], kernel: 2), try m["out"], "max_pool2d")
        let a = try Golden("avg_pool2")
        expectClose(try Ops.avgPool2d(a["x"], kernel: 2), try a["out"], "avg_pool2d")
    }
}
