import Engine
import TensorStore

/// Padding of a (transposed) convolution: explicit per side, or Keras/TF "same" (resolved from the input size).
public enum ConvPadding: Equatable, Sendable {
    /// top, bottom, left, right.
    case explicit(top: Int, bottom: Int, left: Int, right: Int)
    case same

    public static func symmetric(_ p: Int) -> ConvPadding { .explicit(top: p, bottom: p, left: p, right: p) }
}

/// One layer of a sequential generator. Weights are in PyTorch layouts (Linear `[out, in]`, Conv2d
/// `[out, in, kh, kw]`, ConvTranspose2d `[in, out, kh, kw]`); tensors flow NCHW.
public enum SequentialLayer: Equatable, Sendable {
    /// Class embedding `[classes, dim]` looked up from the one-hot condition and concatenated with the flat
    /// input (`zFirst`: `cat[z, e]`, else `cat[e, z]`).
    case embedConcat(classes: Int, dim: Int, zFirst: Bool)
    case linear(inFeatures: Int, outFeatures: Int, bias: Bool)
    /// NCHW view of a flat input (`view(N, C, H, W)`).
    case reshape(channels: Int, height: Int, width: Int)
    /// Keras `Reshape((H, W, C))` of a flat channels-last vector, brought to NCHW.
    case reshapeChannelsLast(height: Int, width: Int, channels: Int)
    /// Batch norm in eval mode over features (2-D input) or channels (4-D input). Without `affine`, weight = 1 and
    /// bias = 0 (Keras center=False, scale=False); `hasWeight`/`hasBias` cover the one-sided cases.
    case batchNorm(features: Int, eps: Float, hasWeight: Bool, hasBias: Bool)
    case conv2d(inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: ConvPadding, bias: Bool)
    /// `padding`/`outputPadding` as in PyTorch; `.same` is Keras/TF "same" (output = input·stride).
    case convTranspose2d(inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: ConvPadding, outputPadding: Int, bias: Bool)
    case upsampleNearest(scale: Int)
    case activation(Activation)

    /// The parameters the layer owns and their shapes (canonical suffixes `weight`, `bias`, `running_mean`, …).
    public var parameterShapes: [(String, [Int])] {
        switch self {
        case let .embedConcat(classes, dim, _): return [("weight", [classes, dim])]
        case let .linear(i, o, b): return [("weight", [o, i])] + (b ? [("bias", [o])] : [])
        case let .batchNorm(f, _, w, b):
            return (w ? [("weight", [f])] : []) + (b ? [("bias", [f])] : []) + [("running_mean", [f]), ("running_var", [f])]
        case let .conv2d(i, o, k, _, _, b): return [("weight", [o, i, k, k])] + (b ? [("bias", [o])] : [])
        case let .convTranspose2d(i, o, k, _, _, _, b): return [("weight", [i, o, k, k])] + (b ? [("bias", [o])] : [])
        default: return []
        }
    }

    public var typeName: String {
        switch self {
        case .embedConcat: return "embed_concat"
        case .linear: return "linear"
        case .reshape: return "reshape"
        case .reshapeChannelsLast: return "reshape_channels_last"
        case .batchNorm: return "batch_norm"
        case .conv2d: return "conv2d"
        case .convTranspose2d: return "conv_transpose2d"
        case .upsampleNearest: return "upsample_nearest"
        case let .activation(a): return a.jsonName
        }
    }
}

extension Activation {
    /// The name `--arch` files use.
    public var jsonName: String {
        switch self {
        case .linear: return "linear"
        case .relu: return "relu"
        case .leakyRelu: return "leaky_relu"
        case .selu: return "selu"
        case .elu: return "elu"
        case .tanh: return "tanh"
        case .sigmoid: return "sigmoid"
        case .gelu: return "gelu"
        case .silu: return "silu"
        case .softplus: return "softplus"
        }
    }
}
