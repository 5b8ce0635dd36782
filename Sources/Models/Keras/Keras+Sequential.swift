import Checkpoints
import Engine
import TensorStore

/// Keras Sequential generators from the file's own model config (whole-model `.h5`, `.keras`): each Keras
/// layer becomes a sequential layer in NCHW, kernels are brought to PyTorch layouts (Dense `(in, out)` → `[out,
/// in]`, Conv2D HWIO → OIHW, Conv2DTranspose `(kh, kw, out, in)` → `[in, out, kh, kw]`, no spatial flip), a
/// channels-last `Reshape` becomes a view plus a permute, and "same" padding keeps TF semantics.
public enum KerasSequentialMapper: CheckpointMapper {
    public static let name = "keras-sequential"

    public static func recognises(_ checkpoint: Checkpoint, options: MapperOptions) -> Bool {
        guard checkpoint.format == .hdf5 || checkpoint.format == .kerasArchive else { return false }
        return checkpoint.metadata.contains { $0.0 == KerasModelDescription.MetadataKey.modelConfig }
    }

    public static func load(_ checkpoint: Checkpoint, options: MapperOptions) throws -> Generator {
        let model = try KerasModelDescription(checkpoint: checkpoint)
        guard model.modelClass == "Sequential" || model.layers.allSatisfy({ $0.inboundLayers.count <= 1 }) else {
            throw ModelError("only Sequential (single-chain) Keras generators are supported; this is a \(model.modelClass)", file: checkpoint.path)
        }
        var zDim: Int? = model.inputShape.flatMap { shape in
            let dims = shape.dropFirst().compactMap { $0 }
            return dims.count == shape.count - 1 ? dims.reduce(1, *) : nil
        }
        if zDim == nil, let first = model.layers.first(where: { !$0.weights.isEmpty }), case .dense = first.kind {
            zDim = first.weight("kernel")?.shape.first
        }
        guard let z = zDim else { throw ModelError("cannot tell the latent size (no input shape in the config)", file: checkpoint.path) }

        var b = SequentialBuilder()
        var shape: [Int] = [z]  // per sample, NCHW when spatial
        var owned: Set<String> = []
        for layer in model.layers {
            let at = "layer '\(layer.name)' (\(layer.className))"
            func fail(_ m: String) -> ModelError { ModelError(m, file: checkpoint.path, location: at) }
            func raw(_ role: String, _ t: ParameterTransform = .identity) -> ParameterResolution? {
                guard let w = layer.weight(role) else { return nil }
                owned.insert(w.rawName)
                return .raw(w.rawName, t)
            }
            func activation(_ a: KerasActivation) throws {
                guard let e = try engineActivation(a, at: at, file: checkpoint.path) else { return }
                b.append(.activation(e))
            }
            switch layer.kind {
            case .input, .dropout:
                continue
            case let .dense(c):
                guard shape.count == 1 || shape.dropFirst().allSatisfy({ $0 == 1 }) else {
                    throw fail("Dense on a spatial tensor \(shape) is not supported")
                }
                let inF = shape.reduce(1, *)
                b.append(.linear(inFeatures: inF, outFeatures: c.units, bias: c.useBias)) { suffix, _ in
                    suffix == "weight" ? raw("kernel", .permute([1, 0])) : raw("bias")
                }
                shape = [c.units]
                try activation(c.activation)
            case let .reshape(t):
                let flat = shape.reduce(1, *)
                var target = t
                if let m = target.firstIndex(of: -1) {
                    let known = target.filter { $0 != -1 }.reduce(1, *)
                    guard known > 0 else { throw fail("bad target shape \(t)") }
                    target[m] = flat / known
                }
                guard target.reduce(1, *) == flat else { throw fail("cannot reshape \(flat) values to \(t)") }
                if target.count == 1 { shape = [flat]; continue }
                guard shape.count == 1 else { throw fail("reshaping a spatial tensor is not supported") }
                let (h, w, ch) = target.count == 3 ? (target[0], target[1], target[2]) : (target[0], target[1], 1)
                guard target.count <= 3 else { throw fail("target shape \(t) is not (H, W[, C])") }
                b.append(.reshapeChannelsLast(height: h, width: w, channels: ch))
                shape = [ch, h, w]
            case .flatten:
                guard shape.count == 1 || shape.dropFirst().allSatisfy({ $0 == 1 }) else {
                    throw fail("Flatten of a spatial tensor is not supported in a generator")
                }
                shape = [shape.reduce(1, *)]
            case let .batchNormalization(c):
                // Keras normalises the last axis: features of a flat tensor, channels of an NHWC one.
                let rank = shape.count + 1
                guard c.axis.count == 1, c.axis[0] == -1 || c.axis[0] == rank - 1 || (shape.count == 1 && c.axis[0] == 1) else {
                    throw fail("batch normalisation over axis \(c.axis) is not supported (only the channel axis)")
                }
                b.append(.batchNorm(features: shape[0], eps: Float(c.epsilon), hasWeight: c.scale, hasBias: c.center)) { suffix, _ in
                    switch suffix {
                    case "weight": return raw("gamma")
                    case "bias": return raw("beta")
                    case "running_mean": return raw("moving_mean")
                    default: return raw("moving_variance")
                    }
                }
            case let .conv2D(c), let .conv2DTranspose(c):
                let transpose: Bool
                if case .conv2DTranspose = layer.kind { transpose = true } else { transpose = false }
                guard c.dataFormat == .channelsLast, c.groups == 1, c.dilationRate.allSatisfy({ $0 == 1 }),
                      c.kernelSize.count == 2, c.kernelSize[0] == c.kernelSize[1], c.strides.count == 2, c.strides[0] == c.strides[1] else {
                    throw fail("only square, undilated, ungrouped channels-last convolutions are supported")
                }
                let k = c.kernelSize[0], s = c.strides[0]
                let inC = shape.first ?? 0
                let padding: ConvPadding = c.padding == .same ? .same : .symmetric(0)
                let kernel: (String, Int) -> ParameterResolution? = { suffix, _ in
                    suffix == "weight" ? raw("kernel", .permute([3, 2, 0, 1])) : raw("bias")
                }
                if transpose {
                    var op = 0
                    if c.padding == .valid { op = c.outputPadding?.first ?? max(k, s) - k }
                    else if let given = c.outputPadding?.first, given != s - k % 2 {
                        throw fail("Conv2DTranspose 'same' with output_padding \(given) is not supported")
                    }
                    b.append(.convTranspose2d(inChannels: inC, outChannels: c.filters, kernel: k, stride: s, padding: padding,
                                              outputPadding: op, bias: c.useBias), source: kernel)
                    let (h, w) = shape.count == 3 ? (shape[1], shape[2]) : (1, 1)
                    shape = c.padding == .same ? [c.filters, h * s, w * s] : [c.filters, (h - 1) * s + k + op, (w - 1) * s + k + op]
                } else {
                    b.append(.conv2d(inChannels: inC, outChannels: c.filters, kernel: k, stride: s, padding: padding, bias: c.useBias), source: kernel)
                    let (h, w) = shape.count == 3 ? (shape[1], shape[2]) : (1, 1)
                    shape = c.padding == .same ? [c.filters, (h + s - 1) / s, (w + s - 1) / s] : [c.filters, (h - k) / s + 1, (w - k) / s + 1]
                }
                try activation(c.activation)
            case let .upSampling2D(c):
                guard c.interpolation == .nearest, c.size.count == 2, c.size[0] == c.size[1], shape.count == 3 else {
                    throw fail("only square nearest-neighbour upsampling is supported")
                }
                b.append(.upsampleNearest(scale: c.size[0]))
                shape = [shape[0], shape[1] * c.size[0], shape[2] * c.size[0]]
            case let .leakyReLU(slope):
                b.append(.activation(.leakyRelu(slope: Float(slope))))
            case let .reLU(c):
                guard c.maxValue == nil, c.threshold == 0 else { throw fail("ReLU with max_value or threshold is not supported") }
                b.append(.activation(c.negativeSlope == 0 ? .relu : .leakyRelu(slope: Float(c.negativeSlope))))
            case let .activation(a):
                try activation(a)
            }
        }
        var outputShape: [Int]? = nil
        if shape.count == 1 {
            // An MLP generator whose output is flat: a square gray image when it can be one.
            let side = Int(Double(shape[0]).squareRoot().rounded())
            if side * side == shape[0] { outputShape = [1, side, side] }
            else if shape[0] % 3 == 0, case let s3 = Int(Double(shape[0] / 3).squareRoot().rounded()), s3 * s3 * 3 == shape[0] { outputShape = [3, s3, s3] }
        }
        let last = b.layers.last
        let config = SequentialConfig(zDim: z, layers: b.layers, outputShape: outputShape,
                                      outputRange: last == .activation(.sigmoid) ? .zeroToOne : .minusOneToOne, origin: "keras")
        let names = owned
        return try b.build(config: config, checkpoint: checkpoint, source: "keras", owns: { names.contains($0) })
    }

    static func engineActivation(_ a: KerasActivation, at: String, file: String) throws -> Activation? {
        switch a {
        case .linear: return nil
        case .relu: return .relu
        case .sigmoid: return .sigmoid
        case .tanh: return .tanh
        case .selu: return .selu
        case .elu: return .elu
        case .softplus: return .softplus
        case .swish: return .silu
        case let .leakyReLU(s): return .leakyRelu(slope: Float(s))
        default: throw ModelError("activation \(a) is not supported", file: file, location: at)
        }
    }
}
