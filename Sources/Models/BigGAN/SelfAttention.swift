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
        let t = try Ops.conv2d(x, weight: theta).reshaped([n, ck, hw])
        let p = try Ops.maxPool2d(try Ops.conv2d(x, weight: phi), kernel: 2).reshaped([n, ck, hw / 4])
        let v = try Ops.maxPool2d(try Ops.conv2d(x, weight: g), kernel: 2).reshaped([n, cv, hw / 4])
        // [N, HW, HW/4]: row i attends over the pooled positions.
        let attn = try Ops.softmax(try Ops.matmul(t, p, transposeA: true), dim: -1)
        let mixed = try Ops.matmul(v, attn, transposeB: true).reshaped([n, cv, h, w])
        let out = try Ops.conv2d(mixed, weight: o)
        guard out.shape[1] == c else { throw ModelError("self-attention output has \(out.shape[1]) channels, input \(c)") }
        // x + γ·out, written over the fresh conv output.
        try BigGANKernels.scaledResidual(into: out, residual: x, gamma: gamma)
        return out
    }
}
