import Engine
import TensorStore

/// gigagan-pytorch's `TextEncoder` from precomputed CLIP token encodings onward: keep-mask from the raw
/// encodings (a row is padding when all its entries are zero), optional `project_in`, a learned global token
/// packed in front, a pre-norm transformer (text attention with a null key/value, then a feed-forward) and a
/// final RMSNorm. Returns the global token (for the style network) and the fine tokens (for cross-attention).
struct GigaGANTextEncoder {
    struct Layer {
        var norm: Tensor, toQKV: Tensor, nullKV: Tensor, toOut: Tensor
        var ff: GigaGANModules.FeedForward
    }

    let spec: GigaGANConfig.TextEncoder
    var globalToken: Tensor
    var projectIn: (weight: Tensor, bias: Tensor)?
    var layers: [Layer]
    var finalNorm: Tensor

    init(_ s: ParameterScope, spec: GigaGANConfig.TextEncoder) {
        self.spec = spec
        let d = spec.dim, inner = spec.heads * spec.dimHead
        globalToken = s.tensor("learned_global_token", shape: [d])
        if spec.projectsInput {
            projectIn = (s.tensor("project_in.weight", shape: [d, spec.inputDim]), s.tensor("project_in.bias", shape: [d]))
        }
        let t = s.scope("transformer")
        layers = (0..<spec.depth).map { k in
            let a = t.scope("layers.\(k).0")
            return Layer(norm: a.tensor("norm.gamma", shape: [d]),
                         toQKV: a.tensor("to_qkv.weight", shape: [3 * inner, d]),
                         nullKV: a.tensor("null_kv", shape: [2, spec.heads, spec.dimHead]),
                         toOut: a.tensor("to_out.weight", shape: [d, inner]),
                         ff: GigaGANModules.FeedForward(t.scope("layers.\(k).1"), dim: d, hidden: spec.ffHidden, channelFirst: false))
        }
        finalNorm = t.tensor("norm.gamma", shape: [d])
    }

    struct Output {
        /// `[B, dim]`.
        var global: Tensor
        /// `[B, T, dim]`.
        var fine: Tensor
        /// `[B][T]`, true = attend.
        var keep: [[Bool]]
    }

    /// - Parameters:
    ///   - encodings: `[B, T, inputDim]`.
    ///   - mask: optional `[B, T]`; a position is attended only when it is non-zero here and its row is not all zero.
    func callAsFunction(_ encodings: Tensor, mask: Tensor?) throws -> Output {
        let (b, t, din) = (encodings.shape[0], encodings.shape[1], encodings.shape[2])
        let raw = encodings.floats()
        let given = mask?.floats()
        var keep = [[Bool]](repeating: [], count: b)
        for s in 0..<b {
            keep[s] = (0..<t).map { i in
                let row = raw[((s * t + i) * din)..<((s * t + i + 1) * din)]
                return row.contains { $0 != 0 } && (given.map { $0[s * t + i] != 0 } ?? true)
            }
        }
        var x = encodings
        if let p = projectIn { x = try Ops.linear(x, weight: p.weight, bias: p.bias) }
        let d = spec.dim
        let token = globalToken.floats(), xs = x.floats()
        var packed = [Float]()
        packed.reserveCapacity(b * (t + 1) * d)
        for s in 0..<b {
            packed += token
            packed += xs[(s * t * d)..<((s + 1) * t * d)]
        }
        x = Tensor(shape: [b, t + 1, d], floats: packed)
        // Attention keys: the null key/value, the global token, then the T text tokens.
        let attentionKeep = keep.map { [true, true] + $0 }
        for layer in layers {
            x = try Ops.add(try attention(layer, x, keep: attentionKeep), x)
            x = try Ops.add(try layer.ff(x), x)
        }
        x = try GigaGANMath.rmsNorm(x, gamma: finalNorm)
        let all = x.floats()
        var global = [Float](), fine = [Float]()
        for s in 0..<b {
            let base = s * (t + 1) * d
            global += all[base..<(base + d)]
            fine += all[(base + d)..<(base + (t + 1) * d)]
        }
        return Output(global: Tensor(shape: [b, d], floats: global), fine: Tensor(shape: [b, t, d], floats: fine), keep: keep)
    }

    /// `TextAttention`: RMSNorm, fused q/k/v projection split in that order, heads `(h d)`, null key/value
    /// prepended, scaled dot product with the key-padding mask, output projection. The residual branch only.
    func attention(_ layer: Layer, _ x: Tensor, keep: [[Bool]]) throws -> Tensor {
        let (b, l) = (x.shape[0], x.shape[1])
        let (heads, dh) = (spec.heads, spec.dimHead)
        let inner = heads * dh
        let qkv = try Ops.linear(try GigaGANMath.rmsNorm(x, gamma: layer.norm), weight: layer.toQKV).floats()
        func split(_ offset: Int) -> [Float] {
            GigaGANMath.headsFromTokens(qkv, batch: b, tokens: l, width: 3 * inner, offset: offset, heads: heads, dimHead: dh)
        }
        let null = layer.nullKV.floats()
        let k = GigaGANMath.prependNull(split(inner), null: Array(null[0..<inner]), batch: b, heads: heads, tokens: l, dimHead: dh)
        let v = GigaGANMath.prependNull(split(2 * inner), null: Array(null[inner..<(2 * inner)]), batch: b, heads: heads, tokens: l, dimHead: dh)
        let out = try GigaGANMath.attend(q: split(0), k: k, v: v, groups: b * heads, queries: l, keys: l + 1, dimHead: dh,
                                         heads: heads, keep: keep)
        let merged = GigaGANMath.tokensFromHeads(out, batch: b, tokens: l, heads: heads, dimHead: dh)
        return try Ops.linear(Tensor(shape: [b, l, inner], floats: merged), weight: layer.toOut)
    }
}
