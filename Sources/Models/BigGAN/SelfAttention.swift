import Engine
import TensorStore

/// The SAGAN non-local block both BigGAN ports use (same math, different names): 1×1 convs θ (C→C/8), φ (C→C/8),
/// g (C→C/2) without biases, 2×2 max-pooling on φ and g, `softmax(θᵀφ)` over the pooled positions (no 1/√d),
/// `o(g·attnᵀ)` back to C channels, and `x + γ·o`. Weights are already spectrally normalised.
struct SelfAttention {
    var theta: Tensor
    var phi: Tensor
    var g: Tensor
    var o: Tensor
    var gamma: Float

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard h % 2 == 0, w % 2 == 0 else {
            throw ModelError("self-attention needs an even spatial size for its 2×2 pooling, got \(h)×\(w)")
        }
        let hw = h * w
        let ck = theta.shape[0], cv = g.shape[0]
        // Positions become rows ([N, HW, C/8] queries, [N, HW/4, ·] keys and values), so the whole of
        // softmax(θᵀφ)·gᵀ is one `Ops.attention` (scale 1): its blocks keep the [HW, HW/4] scores in cache,
        // where a separate softmax streamed 16 MB of them per sample at 64² (BigGAN-deep-128, batch 4: this
        // block took 84–123 ms, now 51–53). Only the small θ, φ, g maps are transposed.
        let t = try Ops.permute(try Ops.conv2d(x, weight: theta).reshaped([n, ck, hw]), [0, 2, 1])
        let p = try Ops.permute(try Ops.maxPool2d(try Ops.conv2d(x, weight: phi), kernel: 2).reshaped([n, ck, hw / 4]), [0, 2, 1])
        let v = try Ops.permute(try Ops.maxPool2d(try Ops.conv2d(x, weight: g), kernel: 2).reshaped([n, cv, hw / 4]), [0, 2, 1])
        let mixed = try Ops.attention(query: t, key: p, value: v, scale: 1)  // [N, HW, C/2]
        // The 1×1 conv o on the transposed mix: o · mixedᵀ → [N, C, HW].
        let out = try Ops.matmul(o.reshaped([o.shape[0], cv]), mixed, transposeB: true).reshaped([n, o.shape[0], h, w])
        guard out.shape[1] == c else { throw ModelError("self-attention output has \(out.shape[1]) channels, input \(c)") }
        // x + γ·out, written over the fresh conv output.
        try BigGANKernels.scaledResidual(into: out, residual: x, gamma: gamma)
        return out
    }
}
