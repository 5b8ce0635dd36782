import Testing
import Foundation
import TensorStore
@testable import Engine

@Suite("Attention, spectral norm, shape ops and elementwise helpers against PyTorch")
struct AttentionAndShapeTests {
    @Test func attention() throws {
        let g = try Golden("attention")
        expectClose(try Ops.attention(query: g["q"], key: g["k"], value: g["v"]), try g["out"], "attention")
        let s = try Golden("attention_sdpa")
        expectClose(try Ops.attention(query: s["q"], key: s["k"], value: s["v"]), try s["out"], "F.scaled_dot_product_attention")
        let m = try Golden("attention_masked")
        expectClose(try Ops.attention(query: m["q"], key: m["k"], value: m["v"], scale: try m.float("scale"), keep: m["keep"]),
                    try m["out"], "masked attention")
    }

    /// Query rows split into small blocks (scores of 14 floats per work item), with and without a mask, on the
    /// panel kernels and on OpenBLAS.
    @Test(arguments: [true, false])
    func attentionInRowBlocks(panels: Bool) throws {
        let g = try Golden("attention")
        let y = try Ops.attention(query: g["q"], key: g["k"], value: g["v"], scale: nil, keep: nil,
                                  maskValue: -Float.greatestFiniteMagnitude, blockFloats: 14, panels: panels)
        expectClose(y, try g["out"], "attention in row blocks")
        let m = try Golden("attention_masked")
        let z = try Ops.attention(query: m["q"], key: m["k"], value: m["v"], scale: try m.float("scale"), keep: m["keep"],
                                  maskValue: -Float.greatestFiniteMagnitude, blockFloats: 14, panels: panels)
        expectClose(z, try m["out"], "masked attention in row blocks")
    }

    /// The panel kernels against a double-precision reference on sizes that leave partial 12-row tiles, partial
    /// 32-column panels (Lk = 45, Dv = 37) and partial 16 × 16 blocks of the transposing pack (D = 7, 20), several
    /// query blocks, and a mask.
    @Test(arguments: [(blockFloats: 256 << 10, masked: false, d: 7), (blockFloats: 14 * 45, masked: true, d: 7),
                      (blockFloats: 256 << 10, masked: true, d: 20), (blockFloats: 30 * 45, masked: false, d: 20)])
    func panelAttentionAgainstDouble(blockFloats: Int, masked: Bool, d: Int) throws {
        let (batch, lq, lk, dv) = (3, 29, 45, 37)
        func values(_ n: Int, _ seed: Int) -> [Float] { (0..<n).map { Float((($0 + seed) * 7919) % 211) / 53 - 2 } }
        let q = values(batch * lq * d, 1), k = values(batch * lk * d, 2), v = values(batch * lk * dv, 3)
        let keep = (0..<(batch * lq * lk)).map { Float(($0 % 5 == 3) ? 0 : 1) }
        let y = try Ops.attention(query: Tensor(shape: [batch, lq, d], floats: q), key: Tensor(shape: [batch, lk, d], floats: k),
                                  value: Tensor(shape: [batch, lk, dv], floats: v), scale: 0.3,
                                  keep: masked ? Tensor(shape: [batch, lq, lk], floats: keep) : nil,
                                  maskValue: -Float.greatestFiniteMagnitude, blockFloats: blockFloats, panels: true).floats()
        var worst = 0.0
        for b in 0..<batch {
            for i in 0..<lq {
                var s = (0..<lk).map { j in 0.3 * (0..<d).reduce(0.0) { $0 + Double(q[(b * lq + i) * d + $1]) * Double(k[(b * lk + j) * d + $1]) } }
                if masked { for j in 0..<lk where keep[(b * lq + i) * lk + j] == 0 { s[j] = -Double(Float.greatestFiniteMagnitude) } }
                let mx = s.max()!, e = s.map { Foundation.exp($0 - mx) }, sum = e.reduce(0, +)
                for c in 0..<dv {
                    let ref = (0..<lk).reduce(0.0) { $0 + e[$1] * Double(v[(b * lk + $1) * dv + c]) } / sum
                    worst = max(worst, abs(Double(y[(b * lq + i) * dv + c]) - ref))
                }
            }
        }
        #expect(worst < 1e-5, "worst difference \(worst)")
    }

    /// Rows long enough for the vector loops (blocks of 32, then a masked tail) against a double-precision softmax.
    @Test(arguments: [1, 31, 32, 100, 1027])
    func softmaxLongRows(length: Int) throws {
        let x = Tensor(shape: [3, length], floats: (0..<(3 * length)).map { Float(($0 * 7919) % 113) / 11 - 5 })
        let y = try Ops.softmax(x).floats(), xs = x.floats()
        var worst = 0.0
        for r in 0..<3 {
            let row = xs[(r * length)..<((r + 1) * length)].map(Double.init)
            let m = row.max()!, e = row.map { Foundation.exp($0 - m) }, sum = e.reduce(0, +)
            for j in 0..<length { worst = max(worst, abs(Double(y[r * length + j]) - e[j] / sum)) }
        }
        #expect(worst < 1e-6, "worst difference \(worst)")
    }

    @Test func softmax() throws {
        let g = try Golden("softmax")
        expectClose(try Ops.softmax(g["x"]), try g["out"], "softmax last dim")
        expectClose(try Ops.softmax(g["x"], dim: 1), try g["out_dim1"], "softmax dim 1")
    }

    @Test func spectralNorm() throws {
        let g = try Golden("spectral_stored")
        expectClose(try Ops.spectralNormalized(g["weight"], u: g["u"], v: g["v"]), try g["out"], "spectral norm, stored u/v")
        let p = try Golden("spectral_power")
        let r = try Ops.spectralNormPowerIteration(p["weight"], u: p["u"], eps: try p.float("eps"))
        expectClose(r.weight, try p["out"], "spectral norm, one power iteration")
        expectClose(Tensor(shape: [1], floats: [r.sigma]), try p["sigma"], "σ")
        expectClose(r.u, try p["u_out"], "u after the iteration")
        expectClose(r.v, try p["v_out"], "v after the iteration")
    }

    @Test func padding() throws {
        let g = try Golden("pad_modes")
        let x = try g["x"]
        // F.pad order is [left, right, top, bottom].
        expectClose(try Ops.pad(x, Padding2D(top: 3, bottom: 0, left: 1, right: 2)), try g["zeros"], "zero pad")
        expectClose(try Ops.pad(x, Padding2D(top: 0, bottom: -2, left: -1, right: 2)), try g["crop"], "negative pad crops")
        expectClose(try Ops.pad(x, Padding2D(top: 3, bottom: 1, left: 1, right: 2), mode: .reflect), try g["reflect"], "reflect")
        expectClose(try Ops.pad(x, Padding2D(top: 0, bottom: 3, left: 2, right: 1), mode: .replicate), try g["replicate"], "replicate")
    }

    @Test func shapeOps() throws {
        let p = try Golden("pixel_shuffle")
        expectClose(try Ops.pixelShuffle(p["x"], factor: 2), try p["out"], "pixel_shuffle")
        let e = try Golden("embedding")
        expectClose(try Ops.embedding(e["indices"], weight: e["weight"]), try e["out"], "embedding")
        let s = try Golden("permute_slice_concat")
        let x = try s["x"]
        expectClose(try Ops.permute(x, [0, 2, 3, 1]), try s["permuted"], "permute")
        expectClose(try Ops.slice(try Ops.slice(x, dim: 1, start: 1, end: 3), dim: 2, start: 0, step: 2), try s["sliced"], "slice")
        expectClose(try Ops.concat([x, Ops.scale(try Ops.slice(x, dim: 1, start: 0, end: 2), 2)], dim: 1), try s["concat"], "concat")
    }

    @Test func elementwise() throws {
        let l = try Golden("lerp")
        expectClose(try Ops.lerp(l["a"], l["b"], weight: 0.3), try l["out03"], tolerance: 0, "lerp w < 0.5 (bit-exact)")
        expectClose(try Ops.lerp(l["a"], l["b"], weight: 0.7), try l["out07"], tolerance: 0, "lerp w ≥ 0.5 (bit-exact)")
        let m = try Golden("mean_dims")
        let x = try m["x"]
        let hw = try Ops.mean(x.reshaped([2, 3, 20]), dim: 2, keepDim: true).reshaped([2, 3, 1, 1])
        expectClose(hw, try m["out"], "mean over H, W")
        expectClose(try Ops.mean(x, dim: 1), try m["out_dim1"], "mean over channels")
        let b = try Golden("broadcast_ops")
        let (a, bb) = (try b["a"], try b["b"])
        expectClose(try Ops.add(a, bb), try b["add"], tolerance: 0, "broadcast add")
        expectClose(try Ops.mul(a, bb), try b["mul"], tolerance: 0, "broadcast mul")
        expectClose(try Ops.sub(a, bb), try b["sub"], tolerance: 0, "broadcast sub")
        expectClose(try Ops.div(a, b["div_b"]), try b["div"], tolerance: 0, "broadcast div")
    }

    @Test func shapeErrorsThrowNamedErrors() throws {
        let x = Tensor(zeros: [1, 4, 5, 5])
        #expect(throws: EngineError.self) { try Ops.conv2d(x, weight: Tensor(zeros: [3, 5, 3, 3])) }
        #expect(throws: EngineError.self) { try Ops.conv2d(x, weight: Tensor(zeros: [3, 4, 7, 7])) }
        #expect(throws: EngineError.self) { try Ops.linear(x, weight: Tensor(zeros: [2, 3])) }
        #expect(throws: EngineError.self) { try Ops.upfirdn2d(x, filter: Tensor(zeros: [2, 2, 2])) }
        #expect(throws: EngineError.self) { try Ops.upfirdn2d(x, filter: nil, padding: Padding2D(-3)) }
        #expect(throws: EngineError.self) { try Ops.embedding([10], weight: Tensor(zeros: [4, 2])) }
        #expect(throws: EngineError.self) { try Ops.pad(x, Padding2D(5), mode: .reflect) }
        do {
            _ = try Ops.conv2d(x, weight: Tensor(zeros: [3, 5, 3, 3]))
        } catch {
            #expect(error.op == "conv2d" && error.description.contains("[3, 5, 3, 3]"))
        }
    }
}
