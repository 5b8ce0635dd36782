import Engine
import TensorStore

/// The bound sub-modules of a GigaGAN generator. Each binds its parameters by canonical path (the upstream
/// state-dict path without the checkpoint prefix) and runs its own piece of the forward pass.
enum GigaGANModules {
    /// `FeedForward`: norm → projection d→hidden (bias) → exact GELU → projection hidden→d (bias).
    /// Channel-first (1×1 convs, ChannelRMSNorm) in image blocks, token-wise (Linear, RMSNorm) in the text encoder.
    struct FeedForward {
        var gamma: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor
        let channelFirst: Bool

        init(_ s: ParameterScope, dim: Int, hidden: Int, channelFirst: Bool) {
            self.channelFirst = channelFirst
            gamma = s.tensor("0.gamma", shape: channelFirst ? [dim, 1, 1] : [dim])
            w1 = s.tensor("1.weight", shape: channelFirst ? [hidden, dim, 1, 1] : [hidden, dim])
            b1 = s.tensor("1.bias", shape: [hidden])
            w2 = s.tensor("3.weight", shape: channelFirst ? [dim, hidden, 1, 1] : [dim, hidden])
            b2 = s.tensor("3.bias", shape: [dim])
        }

        /// The residual branch only (callers add `x`).
        func callAsFunction(_ x: Tensor) throws -> Tensor {
            if channelFirst {
                let h = Ops.gelu(try GigaGANMath.conv1x1(try GigaGANMath.channelRMSNorm(x, gamma: gamma), w1, bias: b1))
                return try GigaGANMath.conv1x1(h, w2, bias: b2)
            }
            let h = Ops.gelu(try Ops.linear(try GigaGANMath.rmsNorm(x, gamma: gamma), weight: w1, bias: b1))
            return try Ops.linear(h, weight: w2, bias: b2)
        }
    }

    /// `SelfAttentionBlock`: image self-attention with a learned null key/value per head, then a feed-forward.
    struct SelfAttentionBlock {
        let spec: GigaGANConfig.Attention
        var norm: Tensor, toQ: Tensor, toK: Tensor?, toV: Tensor, nullKV: Tensor, toOut: Tensor
        var ff: FeedForward

        init(_ s: ParameterScope, dim: Int, spec: GigaGANConfig.Attention) {
            self.spec = spec
            let a = s.scope("attn"), inner = spec.inner
            norm = a.tensor("norm.gamma", shape: [dim, 1, 1])
            toQ = a.tensor("to_q.weight", shape: [inner, dim, 1, 1])
            toK = spec.dotProduct ? a.tensor("to_k.weight", shape: [inner, dim, 1, 1]) : nil
            toV = a.tensor("to_v.weight", shape: [inner, dim, 1, 1])
            nullKV = a.tensor("null_kv", shape: [2, spec.heads, spec.dimHead])
            toOut = a.tensor("to_out.weight", shape: [dim, inner, 1, 1])
            ff = FeedForward(s.scope("ff"), dim: dim, hidden: spec.ffHidden, channelFirst: true)
        }

        func callAsFunction(_ x: Tensor) throws -> Tensor {
            let (b, h, w) = (x.shape[0], x.shape[2], x.shape[3])
            let (heads, dh) = (spec.heads, spec.dimHead)
            let normed = try GigaGANMath.channelRMSNorm(x, gamma: norm)
            let q = GigaGANMath.headsFromChannels(try GigaGANMath.conv1x1(normed, toQ), heads: heads)
            let k = try toK.map { GigaGANMath.headsFromChannels(try GigaGANMath.conv1x1(normed, $0), heads: heads) } ?? q
            let v = GigaGANMath.headsFromChannels(try GigaGANMath.conv1x1(normed, toV), heads: heads)
            let null = nullKV.floats(), half = heads * dh
            let l = h * w
            let kk = GigaGANMath.prependNull(k, null: Array(null[0..<half]), batch: b, heads: heads, tokens: l, dimHead: dh)
            let vv = GigaGANMath.prependNull(v, null: Array(null[half..<(2 * half)]), batch: b, heads: heads, tokens: l, dimHead: dh)
            let out = try GigaGANMath.attend(q: q, k: kk, v: vv, groups: b * heads, queries: l, keys: l + 1, dimHead: dh,
                                             heads: heads, squaredL2: !spec.dotProduct)
            let attn = try GigaGANMath.conv1x1(GigaGANMath.channelsFromHeads(out, batch: b, heads: heads, dimHead: dh, height: h, width: w), toOut)
            let y = try Ops.add(attn, x)
            return try Ops.add(try ff(y), y)
        }
    }

    /// `CrossAttentionBlock`: image queries attend to the fine text tokens (no null key/value), then a feed-forward.
    struct CrossAttentionBlock {
        let spec: GigaGANConfig.Attention
        var norm: Tensor, normContext: Tensor, toQ: Tensor, toKV: Tensor, toOut: Tensor
        var ff: FeedForward

        init(_ s: ParameterScope, dim: Int, contextDim: Int, spec: GigaGANConfig.Attention) {
            self.spec = spec
            let a = s.scope("attn"), inner = spec.inner
            norm = a.tensor("norm.gamma", shape: [dim, 1, 1])
            normContext = a.tensor("norm_context.gamma", shape: [contextDim])
            toQ = a.tensor("to_q.weight", shape: [inner, dim, 1, 1])
            toKV = a.tensor("to_kv.weight", shape: [2 * inner, contextDim])
            toOut = a.tensor("to_out.weight", shape: [dim, inner, 1, 1])
            ff = FeedForward(s.scope("ff"), dim: dim, hidden: spec.ffHidden, channelFirst: true)
        }

        /// - Parameters: context `[B, T, contextDim]`, keep `[B][T]`.
        func callAsFunction(_ x: Tensor, context: Tensor, keep: [[Bool]]) throws -> Tensor {
            let (b, h, w) = (x.shape[0], x.shape[2], x.shape[3])
            let (heads, dh, inner) = (spec.heads, spec.dimHead, spec.inner)
            let t = context.shape[1]
            let normed = try GigaGANMath.channelRMSNorm(x, gamma: norm)
            let q = GigaGANMath.headsFromChannels(try GigaGANMath.conv1x1(normed, toQ), heads: heads)
            let kv = try Ops.linear(try GigaGANMath.rmsNorm(context, gamma: normContext), weight: toKV).floats()
            let k = GigaGANMath.headsFromTokens(kv, batch: b, tokens: t, width: 2 * inner, offset: 0, heads: heads, dimHead: dh)
            let v = GigaGANMath.headsFromTokens(kv, batch: b, tokens: t, width: 2 * inner, offset: inner, heads: heads, dimHead: dh)
            let out = try GigaGANMath.attend(q: q, k: k, v: v, groups: b * heads, queries: h * w, keys: t, dimHead: dh,
                                             heads: heads, keep: keep)
            let attn = try GigaGANMath.conv1x1(GigaGANMath.channelsFromHeads(out, batch: b, heads: heads, dimHead: dh, height: h, width: w), toOut)
            let y = try Ops.add(attn, x)
            return try Ops.add(try ff(y), y)
        }
    }

    /// ×2 upsampling: bilinear (align_corners=False) then the stored [1,2,1] blur with reflect padding, or
    /// (pixel-shuffle variant) 1×1 conv → SiLU → PixelShuffle(2).
    struct Upsampler {
        var filter: [Float]?
        var conv: Tensor?, bias: Tensor?

        init(_ s: ParameterScope, dim: Int, pixelShuffle: Bool) {
            if pixelShuffle {
                conv = s.tensor("net.0.weight", shape: [4 * dim, dim, 1, 1])
                bias = s.tensor("net.0.bias", shape: [4 * dim])
            } else {
                filter = s.tensor("1.f", shape: [3]).floats()
            }
        }

        func callAsFunction(_ x: Tensor) throws -> Tensor {
            if let conv {
                return try Ops.pixelShuffle(Ops.silu(try GigaGANMath.conv1x1(x, conv, bias: bias)), factor: 2)
            }
            return try GigaGANMath.blur(try Ops.upsampleBilinear(x, scale: 2), filter: filter ?? [1, 2, 1])
        }
    }

    /// `SqueezeExcite`: spatial mean → Linear → SiLU → Linear → sigmoid, a per-channel gate `[B, C]`.
    struct SqueezeExcite {
        var w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor

        init(_ s: ParameterScope, dimIn: Int, hidden: Int, dimOut: Int) {
            w1 = s.tensor("1.weight", shape: [hidden, dimIn])
            b1 = s.tensor("1.bias", shape: [hidden])
            w2 = s.tensor("3.weight", shape: [dimOut, hidden])
            b2 = s.tensor("3.bias", shape: [dimOut])
        }

        func callAsFunction(_ x: Tensor) throws -> Tensor {
            let (b, c) = (x.shape[0], x.shape[1])
            let pooled = try Ops.mean(x.reshaped([b, c, x.shape[2] * x.shape[3]]), dim: 2)
            let h = Ops.silu(try Ops.linear(pooled, weight: w1, bias: b1))
            return Ops.sigmoid(try Ops.linear(h, weight: w2, bias: b2))
        }
    }

    /// Multiplies `[B, C, H, W]` by a per-channel gate `[B, C]`.
    static func gate(_ x: Tensor, _ g: Tensor) -> Tensor {
        let (b, c) = (x.shape[0], x.shape[1])
        let plane = x.shape[2] * x.shape[3]
        var out = x.floats()
        let gv = g.floats()
        for i in 0..<(b * c) {
            for p in 0..<plane { out[i * plane + p] *= gv[i] }
        }
        return Tensor(shape: x.shape, floats: out)
    }
}
