import Engine
import TensorStore

/// A sequential generator on the engine: z (and a one-hot class) in, layers in order, NCHW image out.
/// Canonical parameter names are `layers.<i>.<weight|bias|running_mean|running_var>`; trace names `layers.<i>`.
public final class SequentialGenerator: Generator {
    public static let architecture = "sequential"

    public let sequentialConfig: SequentialConfig
    public let source: String
    /// Layers with "same" padding resolved for the actual sizes.
    let resolved: [SequentialLayer]
    /// Per layer, its bound parameters by suffix.
    let weights: [[String: Tensor]]
    /// Per batch-norm layer, its folded `x·scale + shift` form (computed once).
    let foldedNorms: [Int: (scale: [Float], shift: [Float])]
    public let parameters: OrderedDictionary<String, Tensor>
    /// Output shape per sample, `[C, H, W]`.
    public let imageShape: [Int]

    public var architecture: String { Self.architecture }
    public var config: JSONValue { sequentialConfig.json }
    public var zDim: Int { sequentialConfig.zDim }
    public var cDim: Int { sequentialConfig.classes }
    public var outputRange: OutputRange { sequentialConfig.outputRange }
    public var summary: String {
        let kinds = resolved.map(\.typeName)
        var s = "z \(sequentialConfig.zDim)"
        if sequentialConfig.classes > 0 { s += ", \(sequentialConfig.classes) classes" }
        s += ", \(resolved.count) layers (\(kinds.joined(separator: " ")))"
        s += ", image \(imageShape.map(String.init).joined(separator: "×"))"
        return s
    }

    /// Builds the model: resolves "same" paddings by tracing shapes through the layers, binds every parameter,
    /// and reports all binding problems at once.
    public init(config: SequentialConfig, params: ParameterBinder, source: String) throws {
        self.sequentialConfig = config
        self.source = source
        var shape: [Int] = [config.zDim]  // per sample
        var layers: [SequentialLayer] = []
        for (i, layer) in config.layers.enumerated() {
            let at = "layers[\(i)] (\(layer.typeName))"
            func fail(_ m: String) -> ModelError { ModelError(m, location: at) }
            var l = layer
            switch layer {
            case let .embedConcat(classes, dim, _):
                guard shape.count == 1 else { throw fail("a class embedding needs a flat input, got \(shape)") }
                guard classes == config.classes else { throw fail("embeds \(classes) classes but the model declares \(config.classes)") }
                shape = [shape[0] + dim]
            case let .linear(inF, outF, _):
                let flat = shape.reduce(1, *)
                guard flat == inF else { throw fail("takes \(inF) features but receives \(shape)") }
                shape = [outF]
            case let .reshape(c, h, w):
                guard shape.reduce(1, *) == c * h * w else { throw fail("cannot view \(shape) as [\(c), \(h), \(w)]") }
                shape = [c, h, w]
            case let .reshapeChannelsLast(h, w, c):
                guard shape.count == 1, shape[0] == c * h * w else { throw fail("cannot view \(shape) as channels-last [\(h), \(w), \(c)]") }
                shape = [c, h, w]
            case let .batchNorm(f, _, _, _):
                guard shape.first == f else { throw fail("normalises \(f) features but receives \(shape)") }
            case let .conv2d(inC, outC, k, s, padding, bias):
                let (c, h, w) = try Self.spatial(shape, at: at)
                guard c == inC else { throw fail("takes \(inC) channels but receives \(shape)") }
                let p = Self.resolveConv(padding, k: k, s: s, h: h, w: w)
                l = .conv2d(inChannels: inC, outChannels: outC, kernel: k, stride: s, padding: p, bias: bias)
                guard case let .explicit(t, b, le, r) = p else { throw fail("unresolved padding") }
                let oh = (h + t + b - k) / s + 1, ow = (w + le + r - k) / s + 1
                guard oh > 0, ow > 0, h + t + b >= k, w + le + r >= k else { throw fail("kernel \(k) does not fit \(h)×\(w)") }
                shape = [outC, oh, ow]
            case let .convTranspose2d(inC, outC, k, s, padding, op, bias):
                let (c, h, w) = try Self.spatial(shape, at: at)
                guard c == inC else { throw fail("takes \(inC) channels but receives \(shape)") }
                var p = padding
                var outPad = op
                if padding == .same { (p, outPad) = Self.resolveTransposeSame(k: k, s: s) }
                guard case let .explicit(t, b, le, r) = p else { throw fail("unresolved padding") }
                guard outPad < s else { throw fail("output_padding \(outPad) must be smaller than the stride \(s)") }
                l = .convTranspose2d(inChannels: inC, outChannels: outC, kernel: k, stride: s, padding: p, outputPadding: outPad, bias: bias)
                let oh = (h - 1) * s - t - b + k + outPad, ow = (w - 1) * s - le - r + k + outPad
                guard oh > 0, ow > 0 else { throw fail("padding leaves no output for \(h)×\(w)") }
                shape = [outC, oh, ow]
            case let .upsampleNearest(scale):
                let (c, h, w) = try Self.spatial(shape, at: at)
                guard scale >= 1 else { throw fail("scale must be ≥ 1") }
                shape = [c, h * scale, w * scale]
            case .activation:
                break
            }
            layers.append(l)
        }
        if shape.count == 1 {
            guard let out = config.outputShape, out.reduce(1, *) == shape[0] else {
                throw ModelError("the last layer is flat (\(shape[0]) features); give \"output_shape\": [C, H, W]", location: "architecture")
            }
            shape = out
        }
        guard shape.count == 3 else { throw ModelError("the output \(shape) is not an image [C, H, W]", location: "architecture") }
        self.imageShape = shape
        self.resolved = layers

        var weights: [[String: Tensor]] = []
        for (i, layer) in layers.enumerated() {
            let scope = params.root.scope("layers.\(i)")
            var w: [String: Tensor] = [:]
            for (name, s) in layer.parameterShapes { w[name] = scope.tensor(name, shape: s) }
            weights.append(w)
        }
        try params.finish()
        self.weights = weights
        var folded: [Int: (scale: [Float], shift: [Float])] = [:]
        for (i, layer) in layers.enumerated() {
            if case let .batchNorm(_, eps, _, _) = layer, let mean = weights[i]["running_mean"], let variance = weights[i]["running_var"] {
                folded[i] = Ops.foldBatchNorm(mean: mean, variance: variance, weight: weights[i]["weight"],
                                              bias: weights[i]["bias"], eps: eps)
            }
        }
        self.foldedNorms = folded
        self.parameters = params.bound
    }

    static func spatial(_ shape: [Int], at: String) throws -> (Int, Int, Int) {
        if shape.count == 1 { return (shape[0], 1, 1) }  // a flat vector enters a conv as [C, 1, 1]
        guard shape.count == 3 else { throw ModelError("expects [C, H, W], receives \(shape)", location: at) }
        return (shape[0], shape[1], shape[2])
    }

    /// Keras/TF "same" for a convolution: out = ceil(n / s); the odd pixel of padding goes bottom/right.
    static func resolveConv(_ p: ConvPadding, k: Int, s: Int, h: Int, w: Int) -> ConvPadding {
        guard p == .same else { return p }
        func split(_ n: Int) -> (Int, Int) {
            let out = (n + s - 1) / s
            let total = max((out - 1) * s + k - n, 0)
            return (total / 2, total - total / 2)
        }
        let (t, b) = split(h), (l, r) = split(w)
        return .explicit(top: t, bottom: b, left: l, right: r)
    }

    /// Keras/TF "same" for a transposed convolution (output = input·stride), in PyTorch terms: the full
    /// transposed output `(n−1)·s + k` cropped to `[pb, pb + n·s)` with `pb = ⌊(k − s)/2⌋` — the padding of the
    /// forward "same" conv it is the gradient of. For odd kernels at stride 2 this crops 1 before, 2 after.
    static func resolveTransposeSame(k: Int, s: Int) -> (ConvPadding, Int) {
        let total = k - s
        if total >= 0 {
            let before = total / 2
            return (.explicit(top: before, bottom: total - before, left: before, right: total - before), 0)
        }
        // k < s: the full output is shorter than n·s; PyTorch's output padding supplies the rest.
        return (.symmetric(0), -total)
    }

    public func generate(_ inputs: GeneratorInputs, trace: TraceSink?) throws -> GeneratorOutput {
        let n = inputs.count
        guard inputs.z.rank == 2, inputs.z.shape[1] == sequentialConfig.zDim else {
            throw ModelError("z must be [N, \(sequentialConfig.zDim)], got \(inputs.z.shape)")
        }
        var x = inputs.z.toFloat32()
        // Whether `x` is a buffer this call produced (then elementwise layers may run in place on it).
        var owned = false
        var skipNext = false
        for (i, layer) in resolved.enumerated() {
            let w = weights[i]
            if skipNext { skipNext = false; continue }
            // Untraced runs: a batch norm and the activation after it in one in-place pass; lone activations in place.
            if trace == nil && owned && x.dtype == .f32 && x.isContiguous && x.storage.isWritable {
                if case .batchNorm = layer, let folded = foldedNorms[i], i + 1 < resolved.count,
                   case let .activation(act) = resolved[i + 1] {
                    try SequentialKernels.affineActivationInPlace(x, scale: folded.scale, shift: folded.shift, activation: act)
                    skipNext = true
                    continue
                }
                if case let .activation(act) = layer {
                    SequentialKernels.activationInPlace(x, act)
                    continue
                }
            }
            switch layer {
            case let .embedConcat(classes, _, zFirst):
                guard let c = inputs.c, c.shape == [n, classes] else {
                    throw ModelError("this model needs a one-hot class c of shape [\(n), \(classes)]")
                }
                // One-hot × embedding table = the row lookup, exactly.
                let e = try Ops.matmul(c, w["weight"]!)
                x = try Ops.concat(zFirst ? [x, e] : [e, x], dim: 1)
            case .linear:
                x = try Ops.linear(x.reshaped([n, x.elementCount / n]), weight: w["weight"]!, bias: w["bias"])
            case let .reshape(c, h, wd):
                x = x.reshaped([n, c, h, wd])
            case let .reshapeChannelsLast(h, wd, c):
                x = try Ops.permute(x.reshaped([n, h, wd, c]), [0, 3, 1, 2])
            case let .batchNorm(_, eps, _, _):
                x = try Ops.batchNorm(x, mean: w["running_mean"]!, variance: w["running_var"]!, weight: w["weight"], bias: w["bias"], eps: eps)
            case let .conv2d(_, _, _, s, p, _):
                x = try Ops.conv2d(Self.image(x, n), weight: w["weight"]!, bias: w["bias"], stride: Size2(s), padding: Self.padding(p))
            case let .convTranspose2d(_, _, _, s, p, op, _):
                let input = Self.image(x, n)
                if let batched = try BatchedConvTranspose.apply(input, weight: w["weight"]!, bias: w["bias"], stride: s,
                                                                 padding: Self.padding(p), outputPadding: op) {
                    x = batched
                } else {
                    x = try Ops.convTranspose2d(input, weight: w["weight"]!, bias: w["bias"], stride: Size2(s),
                                                padding: Self.padding(p), outputPadding: Size2(op))
                }
            case let .upsampleNearest(scale):
                x = try Ops.upsampleNearest(Self.image(x, n), scale: Size2(scale))
            case let .activation(a):
                x = Ops.activation(x, a)
            }
            // Every other layer writes a fresh buffer; reshapes may be views of the buffer they got.
            switch layer {
            case .reshape, .reshapeChannelsLast: break
            default: owned = true
            }
            trace?.record("layers.\(i)", x)
        }
        if x.rank == 2 { x = x.reshaped([n] + imageShape) }
        return GeneratorOutput(image: x)
    }

    static func padding(_ p: ConvPadding) -> Padding2D {
        if case let .explicit(t, b, l, r) = p { return Padding2D(top: t, bottom: b, left: l, right: r) }
        return .zero
    }

    /// A flat `[N, F]` activation enters a convolution as `[N, F, 1, 1]`.
    static func image(_ x: Tensor, _ n: Int) -> Tensor {
        x.rank == 4 ? x : x.reshaped([n, x.elementCount / n, 1, 1])
    }
}

/// Rebuilds a sequential generator from its canonical form.
public enum SequentialArchitecture: CanonicalArchitecture {
    public static let architecture = SequentialGenerator.architecture
    public static func build(config: JSONValue, params: ParameterBinder, source: String) throws -> Generator {
        try SequentialGenerator(config: SequentialConfig(json: config), params: params, source: source)
    }
}
