import Engine
import TensorStore

/// BigGAN-deep as ported by huggingface pytorch-pretrained-BigGAN (`BigGAN` module, generator only), run on the
/// engine. Canonical parameter names are the port's own state-dict names (`embeddings.weight`,
/// `generator.gen_z.weight_orig`, `…weight_u`, `…weight_v`, `generator.layers.N.bn_0.running_means`, …); the
/// spectral norms are applied once at build time from the stored `weight_u`/`weight_v` (eval mode, no
/// iteration). Trace names: `generator.gen_z`, `generator.layers.N`, `generator.bn`, `generator.conv_to_rgb`.
public final class BigGANDeepGenerator: Generator {
    public static let architecture = "biggan-deep"

    public let deepConfig: BigGANDeepConfig
    public let source: String
    public let parameters: OrderedDictionary<String, Tensor>

    /// Truncation-indexed statistics `[nStats, C]` plus conditional gain/offset linears (spectrally normalised).
    struct ConditionalBN {
        var means: [Float]
        var variances: [Float]
        var channels: Int
        var scale: Tensor
        var offset: Tensor
    }

    struct GenBlock {
        var bn: [ConditionalBN]
        var convWeights: [Tensor]
        var convBiases: [Tensor]
        var upsample: Bool
        var dropChannels: Bool
    }

    enum Layer {
        case block(GenBlock)
        case attention(SelfAttention)
    }

    let embeddings: Tensor
    let genZWeight: Tensor
    let genZBias: Tensor
    let layers: [Layer]
    let outMeans: [Float], outVariances: [Float], outWeight: [Float], outBias: [Float]
    /// conv_to_rgb normalised over all its output rows, then cut to the 3 the port keeps.
    let rgbWeight: Tensor, rgbBias: Tensor

    public var architecture: String { Self.architecture }
    public var config: JSONValue { deepConfig.json }
    public var zDim: Int { deepConfig.zDim }
    public var cDim: Int { deepConfig.numClasses }
    public var outputRange: OutputRange { .minusOneToOne }
    public var summary: String {
        let blocks = deepConfig.layers.count
        let ups = deepConfig.layers.filter(\.upsample).count
        return "BigGAN-deep \(deepConfig.resolution)×\(deepConfig.resolution), z \(zDim), \(cDim) classes, ch \(deepConfig.channelWidth), "
            + "\(blocks) blocks (\(ups) upsampling)" + (deepConfig.hasAttention ? ", attention before block \(deepConfig.attentionLayerPosition)" : "")
    }

    /// A spectrally-normalised weight as bound: normalised only after every parameter has been checked.
    struct PendingSN {
        var name: String
        var weight: Tensor
        var u: Tensor
        var v: Tensor
        func resolve() throws -> Tensor { try SpectralNorm.storedVectors(weight: weight, u: u, v: v, name: name) }
    }

    public init(config: BigGANDeepConfig, params: ParameterBinder, source: String) throws {
        self.deepConfig = config
        self.source = source
        let root = params.root
        let z = config.zDim, cond = 2 * config.zDim, ch = config.channelWidth, nStats = config.nStats

        func sn(_ scope: ParameterScope, _ shape: [Int]) -> PendingSN {
            let rows = shape[0], cols = shape.dropFirst().reduce(1, *)
            return PendingSN(name: scope.path("weight_orig"), weight: scope.tensor("weight_orig", shape: shape),
                             u: scope.tensor("weight_u", shape: [rows]), v: scope.tensor("weight_v", shape: [cols]))
        }
        struct PendingBN { var means: Tensor; var vars: Tensor; var scale: PendingSN; var offset: PendingSN; var c: Int }
        func bn(_ scope: ParameterScope, _ c: Int) -> PendingBN {
            PendingBN(means: scope.tensor("running_means", shape: [nStats, c]), vars: scope.tensor("running_vars", shape: [nStats, c]),
                      scale: sn(scope.scope("scale"), [c, cond]), offset: sn(scope.scope("offset"), [c, cond]), c: c)
        }
        enum PendingLayer {
            case block(bns: [PendingBN], convs: [PendingSN], biases: [Tensor], up: Bool, drop: Bool)
            case attention(theta: PendingSN, phi: PendingSN, g: PendingSN, o: PendingSN, gamma: Tensor)
        }

        let embeddings = root.tensor("embeddings.weight", shape: [z, config.numClasses])
        let gen = root.scope("generator")
        let genZ = sn(gen.scope("gen_z"), [16 * 16 * ch, cond])
        let genZBias = gen.tensor("gen_z.bias", shape: [16 * 16 * ch])
        var pending: [PendingLayer] = []
        for (i, layer) in config.layers.enumerated() {
            if i == config.attentionLayerPosition {
                let c = config.inChannels(i)
                let s = gen.scope("layers.\(pending.count)")
                pending.append(.attention(theta: sn(s.scope("snconv1x1_theta"), [c / 8, c, 1, 1]),
                                          phi: sn(s.scope("snconv1x1_phi"), [c / 8, c, 1, 1]),
                                          g: sn(s.scope("snconv1x1_g"), [c / 2, c, 1, 1]),
                                          o: sn(s.scope("snconv1x1_o_conv"), [c, c / 2, 1, 1]),
                                          gamma: s.tensor("gamma", shape: [1])))
            }
            let cin = config.inChannels(i), cout = config.outChannels(i), mid = cin / 4
            let s = gen.scope("layers.\(pending.count)")
            let bns = [bn(s.scope("bn_0"), cin), bn(s.scope("bn_1"), mid), bn(s.scope("bn_2"), mid), bn(s.scope("bn_3"), mid)]
            let shapes = [[mid, cin, 1, 1], [mid, mid, 3, 3], [mid, mid, 3, 3], [cout, mid, 1, 1]]
            let convs = shapes.enumerated().map { k, shape in sn(s.scope("conv_\(k)"), shape) }
            let biases = shapes.enumerated().map { k, shape in s.tensor("conv_\(k).bias", shape: [shape[0]]) }
            pending.append(.block(bns: bns, convs: convs, biases: biases, up: layer.upsample, drop: cin != cout))
        }
        let outMeans = gen.tensor("bn.running_means", shape: [nStats, ch])
        let outVars = gen.tensor("bn.running_vars", shape: [nStats, ch])
        let outWeight = gen.tensor("bn.weight", shape: [ch])
        let outBias = gen.tensor("bn.bias", shape: [ch])
        let rgb = sn(gen.scope("conv_to_rgb"), [ch, ch, 3, 3])
        let rgbBias = gen.tensor("conv_to_rgb.bias", shape: [ch])
        try params.finish()
        guard ch >= 3 else { throw ModelError("conv_to_rgb has \(ch) output channels; the port keeps the first 3", location: "generator.conv_to_rgb") }

        func resolveBN(_ p: PendingBN) throws -> ConditionalBN {
            ConditionalBN(means: p.means.floats(), variances: p.vars.floats(), channels: p.c,
                          scale: try p.scale.resolve(), offset: try p.offset.resolve())
        }
        self.embeddings = embeddings
        self.genZWeight = try genZ.resolve()
        self.genZBias = genZBias
        self.layers = try pending.map { p in
            switch p {
            case let .block(bns, convs, biases, up, drop):
                return .block(GenBlock(bn: try bns.map(resolveBN), convWeights: try convs.map { try $0.resolve() },
                                       convBiases: biases, upsample: up, dropChannels: drop))
            case let .attention(theta, phi, g, o, gamma):
                return .attention(SelfAttention(theta: try theta.resolve(), phi: try phi.resolve(), g: try g.resolve(),
                                                o: try o.resolve(), gamma: gamma.floats()[0]))
            }
        }
        self.outMeans = outMeans.floats()
        self.outVariances = outVars.floats()
        self.outWeight = outWeight.floats()
        self.outBias = outBias.floats()
        let rgbFull = try rgb.resolve().floats()
        self.rgbWeight = Tensor(shape: [3, ch, 3, 3], floats: Array(rgbFull[0..<(3 * ch * 9)]))
        self.rgbBias = Tensor(shape: [3], floats: Array(rgbBias.floats()[0..<3]))
        self.parameters = params.bound
    }

    /// The port's statistics lookup (`BigGANBatchNorm.forward`): `coef, start = modf(truncation / step)` in
    /// double precision with `step = 1/(n_stats − 1)`; at coef 0 the row `start`, otherwise
    /// `stats[start]·coef + stats[start+1]·(1 − coef)` — the weights are the reverse of an ordinary lerp, and
    /// are reproduced as such. The products run in float32 like the tensor-times-scalar ops of the port.
    static func statistics(_ table: [Float], channels c: Int, nStats: Int, truncation: Double) -> [Float] {
        let position = truncation / (1.0 / Double(nStats - 1))
        let start = position.rounded(.towardZero)
        let coef = position - start
        let i = Int(start)
        let row = Array(table[(i * c)..<((i + 1) * c)])
        guard coef != 0 else { return row }
        let next = table[((i + 1) * c)..<((i + 2) * c)]
        let a = Float(coef), b = Float(1 - coef)
        return zip(row, next).map { $0 * a + $1 * b }
    }

    /// The truncation as a double the way a Python caller would have typed it: the shortest decimal that rounds
    /// to the given float (0.6f → 0.6, not 0.6000000238). The statistics index depends on it: 0.6/0.02 is
    /// exactly 30 (row 30), 0.6000000238/0.02 is 30.0000012 (almost all row 31).
    public static func truncationValue(_ t: Float) -> Double {
        Double(String(describing: t)) ?? Double(t)
    }

    public func generate(_ inputs: GeneratorInputs, trace: TraceSink?) throws -> GeneratorOutput {
        let n = inputs.count
        let z = inputs.z.toFloat32()
        guard z.rank == 2, z.shape[1] == zDim else { throw ModelError("z must be [N, \(zDim)], got \(inputs.z.shape)") }
        guard let c = inputs.c?.toFloat32(), c.shape == [n, cDim] else {
            throw ModelError("BigGAN-deep needs a class vector c of shape [\(n), \(cDim)] (one-hot or a mixture)")
        }
        let truncation = Self.truncationValue(inputs.truncation)
        guard truncation > 0, truncation <= 1 else {
            throw ModelError("BigGAN-deep truncation must be in (0, 1], got \(inputs.truncation)", location: "truncation")
        }
        let nStats = deepConfig.nStats
        let eps = Float(deepConfig.eps)

        // Condition vector [z, class embedding]: the same 2·zDim vector feeds gen_z and every batch norm.
        let embed = try Ops.linear(c, weight: embeddings)
        let cond = try Ops.concat([z, embed], dim: 1)
        let c0 = genZWeight.shape[0] / 16
        // gen_z writes TF's NHWC order: view as [N, 4, 4, C] and move channels first.
        var h = try Ops.linear(cond, weight: genZWeight, bias: genZBias).reshaped([n, 4, 4, c0]).permuted([0, 3, 1, 2]).toFloat32()
        trace?.record("generator.gen_z", h)

        /// `inPlace` for activations this call just produced (conv outputs), never for a block's input.
        func norm(_ x: Tensor, _ bn: ConditionalBN, inPlace: Bool = false) throws -> Tensor {
            let mean = Self.statistics(bn.means, channels: bn.channels, nStats: nStats, truncation: truncation)
            let variance = Self.statistics(bn.variances, channels: bn.channels, nStats: nStats, truncation: truncation)
            let gain = try Ops.linear(cond, weight: bn.scale).floats().map { 1 + $0 }
            let bias = try Ops.linear(cond, weight: bn.offset).floats()
            return try BigGANKernels.conditionalNorm(x, mean: mean, invStd: BigGANKernels.inverseStd(variance, eps: eps), gain: gain,
                                                     bias: bias, inPlace: inPlace)
        }

        for (index, layer) in layers.enumerated() {
            switch layer {
            case let .attention(attention):
                h = try attention(h)
            case let .block(b):
                // Norms after the first run in place on the fresh conv outputs (h is still needed for the skip).
                var x = try Ops.conv2d(try norm(h, b.bn[0]), weight: b.convWeights[0], bias: b.convBiases[0])
                x = try norm(x, b.bn[1], inPlace: true)
                if b.upsample { x = try Ops.upsampleNearest(x, scale: 2) }
                x = try Ops.conv2d(x, weight: b.convWeights[1], bias: b.convBiases[1], padding: 1)
                x = try Ops.conv2d(try norm(x, b.bn[2], inPlace: true), weight: b.convWeights[2], bias: b.convBiases[2], padding: 1)
                x = try Ops.conv2d(try norm(x, b.bn[3], inPlace: true), weight: b.convWeights[3], bias: b.convBiases[3])
                // Skip path: the first x.C channels of h (the channel drop keeps the first half), nearest-upsampled
                // with the block, added in place.
                guard x.shape[1] == (b.dropChannels ? h.shape[1] / 2 : h.shape[1]) else {
                    throw ModelError("block \(index) produces \(x.shape[1]) channels for a \(h.shape[1])-channel input")
                }
                try BigGANKernels.addSkip(into: x, skip: h, upsample: b.upsample)
                h = x
            }
            trace?.record("generator.layers.\(index)", h)
        }
        let mean = Self.statistics(outMeans, channels: deepConfig.channelWidth, nStats: nStats, truncation: truncation)
        let variance = Self.statistics(outVariances, channels: deepConfig.channelWidth, nStats: nStats, truncation: truncation)
        h = try BigGANKernels.conditionalNorm(h, mean: mean, invStd: BigGANKernels.inverseStd(variance, eps: eps), gain: outWeight, bias: outBias)
        trace?.record("generator.bn", h)
        h = try Ops.conv2d(h, weight: rgbWeight, bias: rgbBias, padding: 1)
        trace?.record("generator.conv_to_rgb", h)
        return GeneratorOutput(image: Ops.tanh(h))
    }
}
