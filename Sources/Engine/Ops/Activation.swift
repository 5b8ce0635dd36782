import TensorStore
import CEngineKernels
#if canImport(Glibc)
import Glibc
#endif

/// Pointwise activation functions with their PyTorch definitions.
public enum Activation: Equatable, Sendable {
    /// Identity.
    case linear
    /// `max(x, 0)`.
    case relu
    /// `x` if `x ≥ 0` else `slope·x` (PyTorch default slope 0.01, Keras 0.3, StyleGAN 0.2).
    case leakyRelu(slope: Float)
    /// `λ·x` if `x > 0` else `λ·α·(eˣ − 1)`, λ = 1.0507009873554805, α = 1.6732632423543772.
    case selu
    /// `x` if `x > 0` else `eˣ − 1`.
    case elu
    case tanh
    /// `1 / (1 + e⁻ˣ)`.
    case sigmoid
    /// Exact GELU: `x·½·(1 + erf(x/√2))` (PyTorch `approximate='none'`).
    case gelu
    /// SiLU / swish: `x·sigmoid(x)`.
    case silu
    /// `log(1 + eˣ)` (PyTorch threshold 20: identity above it).
    case softplus

    /// StyleGAN's `lrelu` (slope 0.2).
    public static let lrelu = Activation.leakyRelu(slope: 0.2)

    /// The default gain of this activation in StyleGAN's `bias_act` table: √2 for relu, lrelu and swish, 1 otherwise.
    public var styleGANDefaultGain: Float {
        switch self {
        case .relu, .leakyRelu, .silu: return Float(2.0.squareRoot())
        default: return 1
        }
    }

    @inlinable
    public func apply(_ x: Float) -> Float {
        switch self {
        case .linear: return x
        case .relu: return x > 0 ? x : 0
        case .leakyRelu(let s): return x >= 0 ? x : x * s
        case .selu:
            let scale: Float = 1.0507009873554805, alpha: Float = 1.6732632423543772
            return x > 0 ? scale * x : scale * (alpha * expm1f(x))
        case .elu: return x > 0 ? x : expm1f(x)
        case .tanh: return tanhf(x)
        case .sigmoid: return 1 / (1 + expf(-x))
        case .gelu: return x * 0.5 * (1 + erff(x * Float(0.5.squareRoot())))
        case .silu: return x / (1 + expf(-x))
        case .softplus: return x > 20 ? x : log1pf(expf(x))
        }
    }
}

/// Applies `f` to every element of `src` into `dst`, split across cores.
@usableFromInline
func mapParallel(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int,
                 _ f: (Float) -> Float) {
    Parallel.forRanges(count, minChunk: 1 << 15) { r in
        for i in r { dst[i] = f(src[i]) }
    }
}

/// `dst = tanh(src)` (may be in place) on the vector kernel (within 5 ulp), on the calling thread.
public func tanhRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
    ek_tanh(dst, src, count)
}

/// `tanhRow` split across cores: glibc's scalar `tanhf` took 6.6 ms for DCGAN-64's 64×3×64² output on two cores.
public func tanhParallel(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
    Parallel.forRanges(count, minChunk: 1 << 15) { r in
        tanhRow(src + r.lowerBound, dst + r.lowerBound, r.count)
    }
}

extension Ops {
    /// Applies an activation elementwise (PyTorch `F.relu`, `F.leaky_relu`, `F.selu`, `torch.tanh`,
    /// `torch.sigmoid`, `F.gelu`, `F.silu`, `F.softplus`).
    public static func activation(_ x: Tensor, _ act: Activation) -> Tensor {
        let xi = Input(x)
        defer { keepAlive(xi) }
        let out = Tensor.uninitializedF32(x.shape)
        let dst = out.mutableBase
        switch act {
        case .linear: dst.update(from: xi.base, count: xi.count)
        case .relu: mapParallel(xi.base, dst, xi.count) { $0 > 0 ? $0 : 0 }
        case .leakyRelu(let s): mapParallel(xi.base, dst, xi.count) { $0 >= 0 ? $0 : $0 * s }
        case .tanh: tanhParallel(xi.base, dst, xi.count)
        default: mapParallel(xi.base, dst, xi.count) { act.apply($0) }
        }
        return out
    }

    public static func relu(_ x: Tensor) -> Tensor { activation(x, .relu) }
    public static func leakyRelu(_ x: Tensor, slope: Float = 0.01) -> Tensor { activation(x, .leakyRelu(slope: slope)) }
    public static func selu(_ x: Tensor) -> Tensor { activation(x, .selu) }
    public static func tanh(_ x: Tensor) -> Tensor { activation(x, .tanh) }
    public static func sigmoid(_ x: Tensor) -> Tensor { activation(x, .sigmoid) }
    public static func gelu(_ x: Tensor) -> Tensor { activation(x, .gelu) }
    public static func silu(_ x: Tensor) -> Tensor { activation(x, .silu) }

    /// StyleGAN's `bias_act` (reference path `_bias_act_ref`): `x + b` broadcast along `dim`, then the activation,
    /// then `× gain` (when ≠ 1), then `clamp(−clamp, clamp)` (when `clamp` is given and ≥ 0).
    ///
    /// - Parameters:
    ///   - bias: `[x.shape[dim]]` or nil.
    ///   - gain: nil means the activation's StyleGAN default (`√2` for lrelu/relu/swish, else 1).
    ///   - clamp: nil or negative for none.
    public static func biasAct(_ x: Tensor, bias: Tensor? = nil, dim: Int = 1, activation act: Activation = .linear,
                               gain: Float? = nil, clamp: Float? = nil) throws(EngineError) -> Tensor {
        let op = "bias_act"
        let xi = Input(x)
        let g = gain ?? act.styleGANDefaultGain
        let c: Float? = (clamp ?? -1) >= 0 ? clamp : nil
        var channels = 1, inner = 1
        if let bias {
            try require(dim >= 0 && dim < x.rank, op, "dim \(dim) out of range for input \(x.shape)")
            channels = x.shape[dim]
            try require(bias.elementCount == channels, op, "bias \(bias.shape) does not match input \(x.shape) along dim \(dim)")
            inner = x.shape[(dim + 1)...].reduce(1, *)
        }
        let bi = bias.map(Input.init)
        defer { keepAlive(xi, bi as Any) }
        let out = Tensor.uninitializedF32(x.shape)
        let src = xi.base, dst = out.mutableBase
        let total = xi.count
        // With a bias every run of `inner` elements shares one bias value; without, cut the data in 64k runs.
        let rowLen = bi != nil ? max(inner, 1) : 65536
        let rows = (total + rowLen - 1) / rowLen
        Parallel.forRanges(rows, minChunk: max(1, (1 << 15) / rowLen)) { r in
            for row in r {
                let b: Float = bi.map { $0.base[row % channels] } ?? 0
                let start = row * rowLen
                biasActRow(src + start, dst + start, min(rowLen, total - start), bias: b, act, gain: g, clamp: c)
            }
        }
        return out
    }
}

/// One run of `bias_act` with a constant bias, the activation switch hoisted out of the loop.
@usableFromInline
func biasActRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, bias: Float,
                _ act: Activation, gain: Float, clamp: Float?) {
    let lo = -(clamp ?? .infinity), hi = clamp ?? .infinity
    switch act {
    case .linear:
        for i in 0..<n { dst[i] = min(max((src[i] + bias) * gain, lo), hi) }
    case .leakyRelu(let s):
        for i in 0..<n {
            let v = src[i] + bias
            dst[i] = min(max((v >= 0 ? v : v * s) * gain, lo), hi)
        }
    case .relu:
        for i in 0..<n { let v = src[i] + bias; dst[i] = min(max((v > 0 ? v : 0) * gain, lo), hi) }
    default:
        for i in 0..<n { dst[i] = min(max(act.apply(src[i] + bias) * gain, lo), hi) }
    }
}
