/// Activation functions as Keras names them in layer configs (`activation="selu"`).
public enum KerasActivation: Sendable, Equatable, CustomStringConvertible {
    case linear, relu, relu6, sigmoid, hardSigmoid, tanh, selu, elu, softplus, softsign, swish, gelu, exponential, softmax, mish
    /// `activation="leaky_relu"` on a layer uses the function's default slope (0.2 in Keras 3).
    case leakyReLU(slope: Double)

    /// Parses a config's activation: a name, null (linear), or a serialized function object.
    init?(configValue name: String?) {
        switch name ?? "linear" {
        case "linear", "identity": self = .linear
        case "relu": self = .relu
        case "relu6": self = .relu6
        case "sigmoid": self = .sigmoid
        case "hard_sigmoid": self = .hardSigmoid
        case "tanh": self = .tanh
        case "selu": self = .selu
        case "elu": self = .elu
        case "softplus": self = .softplus
        case "softsign": self = .softsign
        case "swish", "silu": self = .swish
        case "gelu": self = .gelu
        case "exponential": self = .exponential
        case "softmax": self = .softmax
        case "mish": self = .mish
        case "leaky_relu": self = .leakyReLU(slope: 0.2)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .linear: return "linear"
        case .relu: return "relu"
        case .relu6: return "relu6"
        case .sigmoid: return "sigmoid"
        case .hardSigmoid: return "hard_sigmoid"
        case .tanh: return "tanh"
        case .selu: return "selu"
        case .elu: return "elu"
        case .softplus: return "softplus"
        case .softsign: return "softsign"
        case .swish: return "swish"
        case .gelu: return "gelu"
        case .exponential: return "exponential"
        case .softmax: return "softmax"
        case .mish: return "mish"
        case let .leakyReLU(s): return "leaky_relu(\(KerasFormat.number(s)))"
        }
    }
}

public enum KerasPadding: String, Sendable { case same, valid }

public enum KerasDataFormat: String, Sendable {
    case channelsLast = "channels_last"
    case channelsFirst = "channels_first"
}

public struct KerasDenseConfig: Sendable, Equatable {
    public var units: Int
    public var activation: KerasActivation
    public var useBias: Bool
}

/// Conv2D and Conv2DTranspose hyper-parameters. Kernel layout: Conv2D `(kh, kw, in, out)`, Conv2DTranspose
/// `(kh, kw, out, in)`.
public struct KerasConvConfig: Sendable, Equatable {
    public var filters: Int
    public var kernelSize: [Int]
    public var strides: [Int]
    public var padding: KerasPadding
    public var dataFormat: KerasDataFormat
    public var dilationRate: [Int]
    public var groups: Int
    public var activation: KerasActivation
    public var useBias: Bool
    /// Conv2DTranspose only; nil means Keras infers it.
    public var outputPadding: [Int]?
}

public struct KerasBatchNormConfig: Sendable, Equatable {
    /// Normalised axes as written in the config (`-1`, `3`, `[1]`), including the batch axis in the count.
    public var axis: [Int]
    public var epsilon: Double
    /// Whether `beta` exists.
    public var center: Bool
    /// Whether `gamma` exists.
    public var scale: Bool
}

public struct KerasUpSamplingConfig: Sendable, Equatable {
    public enum Interpolation: String, Sendable { case nearest, bilinear }
    public var size: [Int]
    public var interpolation: Interpolation
    public var dataFormat: KerasDataFormat
}

public struct KerasReLUConfig: Sendable, Equatable {
    public var maxValue: Double?
    public var negativeSlope: Double
    public var threshold: Double
}

/// What a layer computes, with its hyper-parameters.
public enum KerasLayerKind: Sendable, Equatable {
    /// `batchShape` includes the batch dimension (nil = unknown).
    case input(batchShape: [Int?])
    case dense(KerasDenseConfig)
    /// Target shape without the batch dimension (may hold one -1).
    case reshape(targetShape: [Int])
    case flatten(dataFormat: KerasDataFormat)
    case batchNormalization(KerasBatchNormConfig)
    case conv2D(KerasConvConfig)
    case conv2DTranspose(KerasConvConfig)
    case upSampling2D(KerasUpSamplingConfig)
    case leakyReLU(slope: Double)
    case reLU(KerasReLUConfig)
    case activation(KerasActivation)
    case dropout(rate: Double)

    /// The weight roles this layer stores, in Keras order (trainable, then non-trainable).
    public var weightRoles: [String] {
        switch self {
        case let .dense(c): return c.useBias ? ["kernel", "bias"] : ["kernel"]
        case let .conv2D(c), let .conv2DTranspose(c): return c.useBias ? ["kernel", "bias"] : ["kernel"]
        case let .batchNormalization(c):
            return (c.scale ? ["gamma"] : []) + (c.center ? ["beta"] : []) + ["moving_mean", "moving_variance"]
        default: return []
        }
    }
}

/// One weight of a layer: its Keras role (`kernel`, `bias`, `gamma`, `moving_mean`, …), the raw tensor name in
/// the checkpoint's store, and its shape.
public struct KerasWeight: Sendable, Equatable {
    public var role: String
    public var rawName: String
    public var shape: [Int]
}

/// One layer of a Keras model: its name, class, kind with hyper-parameters, and its weights in Keras order.
public struct KerasLayer: Sendable, Equatable {
    public var name: String
    public var className: String
    public var kind: KerasLayerKind
    public var weights: [KerasWeight]
    /// For functional models, the layers feeding this one; empty in a Sequential (the previous layer feeds it).
    public var inboundLayers: [String]

    /// The weight with the given role (`kernel`, `bias`, `gamma`, `beta`, `moving_mean`, `moving_variance`).
    public func weight(_ role: String) -> KerasWeight? { weights.first { $0.role == role } }

    /// One line: `dense: Dense(units=512, activation=linear, use_bias=true)`.
    public var summary: String { "\(name): \(className)(\(KerasFormat.parameters(kind)))" }
}

/// Text for layer listings.
enum KerasFormat {
    static func number(_ d: Double) -> String {
        if d.rounded() == d && abs(d) < 1e15 { return String(Int64(d)) }
        // Configs store float32 values as doubles (0.30000001192092896); print them the way they were typed.
        return "\(Float(d))"
    }

    static func list(_ v: [Int]) -> String { "(" + v.map(String.init).joined(separator: ", ") + ")" }

    static func parameters(_ kind: KerasLayerKind) -> String {
        switch kind {
        case let .input(shape):
            return "batch_shape=(" + shape.map { $0.map(String.init) ?? "None" }.joined(separator: ", ") + ")"
        case let .dense(c):
            return "units=\(c.units), activation=\(c.activation), use_bias=\(c.useBias)"
        case let .reshape(t): return "target_shape=\(list(t))"
        case let .flatten(f): return "data_format=\(f.rawValue)"
        case let .batchNormalization(c):
            return "axis=\(c.axis.count == 1 ? String(c.axis[0]) : list(c.axis)), epsilon=\(number(c.epsilon)), center=\(c.center), scale=\(c.scale)"
        case let .conv2D(c), let .conv2DTranspose(c):
            var s = "filters=\(c.filters), kernel_size=\(list(c.kernelSize)), strides=\(list(c.strides)), padding=\(c.padding.rawValue)"
            if c.dilationRate.contains(where: { $0 != 1 }) { s += ", dilation_rate=\(list(c.dilationRate))" }
            if c.groups != 1 { s += ", groups=\(c.groups)" }
            if let op = c.outputPadding { s += ", output_padding=\(list(op))" }
            s += ", activation=\(c.activation), use_bias=\(c.useBias)"
            if c.dataFormat != .channelsLast { s += ", data_format=\(c.dataFormat.rawValue)" }
            return s
        case let .upSampling2D(c):
            return "size=\(list(c.size)), interpolation=\(c.interpolation.rawValue)"
                + (c.dataFormat != .channelsLast ? ", data_format=\(c.dataFormat.rawValue)" : "")
        case let .leakyReLU(s): return "negative_slope=\(number(s))"
        case let .reLU(c):
            var s = "max_value=\(c.maxValue.map(number) ?? "None")"
            if c.negativeSlope != 0 { s += ", negative_slope=\(number(c.negativeSlope))" }
            if c.threshold != 0 { s += ", threshold=\(number(c.threshold))" }
            return s
        case let .activation(a): return "activation=\(a)"
        case let .dropout(r): return "rate=\(number(r))"
        }
    }
}
