import Engine
import TensorStore

/// BigGAN as written by ajbrock BigGAN-PyTorch (`BigGAN.Generator`), run on the engine. Canonical parameter names
/// are its own state-dict names (`shared.weight`, `linear.weight`, `linear.u0`, `blocks.i.0.bn1.gain.weight`,
/// `blocks.i.1.theta.weight`, `output_layer.2.weight`, …; `sv0` is a training log and is not kept). Spectral norm
/// runs its one power-iteration step from the stored `u0` once, at build time: upstream repeats the same step
/// from the same `u0` on every eval call, so the result is the same. Trace names: `linear`, `blocks.i.j`,
/// `output_layer`.
public final class BigGANGenerator: Generator {
    public static let architecture = "biggan"

    public let bigGANConfig: BigGANConfig
    public let source: String
    public let parameters: OrderedDictionary<String, Tensor>

    /// Class-conditional BN: stored statistics (or none for `nonorm`) and gain/bias maps of the condition.
    struct ConditionalBN {
        var mean: [Float]
        var invStd: [Float]
        /// `[C, condition]` linears (shared embedding) or `[n_classes, C]` class embeddings.
        var gain: Tensor
        var bias: Tensor
        var classEmbedding: Bool
    }

    struct Block {
        var bn1: ConditionalBN, bn2: ConditionalBN
        var conv1: Tensor, conv1Bias: Tensor
        var conv2: Tensor, conv2Bias: Tensor
        var shortcut: Tensor?, shortcutBias: Tensor?
        var attention: SelfAttention?
    }

    let shared: Tensor?
    let linearWeight: Tensor, linearBias: Tensor
    let blocks: [Block]
    let outMean: [Float], outInvStd: [Float], outGain: [Float], outBias: [Float]
    let outConv: Tensor, outConvBias: Tensor

    public var architecture: String { Self.architecture }
    public var config: JSONValue { bigGANConfig.json }
    public var zDim: Int { bigGANConfig.zDim }
    public var cDim: Int { bigGANConfig.numClasses }
    public var outputRange: OutputRange { .minusOneToOne }
    public var summary: String {
        let c = bigGANConfig
        let attn = c.blocks.enumerated().filter(\.element.attention).map { String(c.bottomWidth << ($0.offset + 1)) }
        return "BigGAN \(c.resolution)×\(c.resolution), z \(c.zDim)" + (c.hierarchical ? " (\(c.blocks.count + 1) chunks of \(c.zChunk))" : "")
            + ", \(c.numClasses) classes" + (c.sharedEmbedding ? ", shared embedding \(c.sharedDim)" : "")
            + ", \(c.blocks.count) blocks \(c.blocks.map { String($0.outChannels) }.joined(separator: "→"))"
            + (attn.isEmpty ? "" : ", attention at \(attn.joined(separator: ","))")
    }

    /// A bound weight, normalised after every parameter has been checked.
    struct PendingWeight {
        var name: String
        var weight: Tensor
        var u0: Tensor?
        func resolve(eps: Double) throws -> Tensor {
            guard let u0 else { return weight }
            return try SpectralNorm.onePowerIteration(weight: weight, u0: u0, eps: eps, name: name)
        }
    }

    public init(config: BigGANConfig, params: ParameterBinder, source: String) throws {
        self.bigGANConfig = config
        self.source = source
        let root = params.root
        let cond = config.conditionDim

        func weight(_ scope: ParameterScope, _ shape: [Int], sn: Bool = config.spectralNorm) -> PendingWeight {
            PendingWeight(name: scope.path("weight"), weight: scope.tensor("weight", shape: shape),
                          u0: sn ? scope.tensor("u0", shape: [1, shape[0]]) : nil)
        }
        struct PendingBN { var mean: Tensor?; var variance: Tensor?; var gain: PendingWeight; var bias: PendingWeight }
        func stats(_ scope: ParameterScope, _ c: Int) -> (Tensor?, Tensor?) {
            guard config.normalizes else { return (nil, nil) }
            let s = config.myBN ? scope.scope("bn") : scope
            return (s.tensor("stored_mean", shape: [c]), s.tensor("stored_var", shape: [c]))
        }
        func ccbn(_ scope: ParameterScope, _ c: Int) -> PendingBN {
            let (m, v) = stats(scope, c)
            if config.sharedEmbedding {
                return PendingBN(mean: m, variance: v, gain: weight(scope.scope("gain"), [c, cond]), bias: weight(scope.scope("bias"), [c, cond]))
            }
            return PendingBN(mean: m, variance: v, gain: weight(scope.scope("gain"), [config.numClasses, c], sn: false),
                             bias: weight(scope.scope("bias"), [config.numClasses, c], sn: false))
        }
        struct PendingBlock {
            var bn1: PendingBN, bn2: PendingBN
            var conv1: PendingWeight, conv1Bias: Tensor, conv2: PendingWeight, conv2Bias: Tensor
            var shortcut: PendingWeight, shortcutBias: Tensor
            var attention: (theta: PendingWeight, phi: PendingWeight, g: PendingWeight, o: PendingWeight, gamma: Tensor)?
        }

        let shared = config.sharedEmbedding ? root.tensor("shared.weight", shape: [config.numClasses, config.sharedDim]) : nil
        let c0 = config.blocks[0].inChannels, bw = config.bottomWidth
        let linear = weight(root.scope("linear"), [c0 * bw * bw, config.zChunk])
        let linearBias = root.tensor("linear.bias", shape: [c0 * bw * bw])
        let k = config.kernelSize
        var pending: [PendingBlock] = []
        for (i, b) in config.blocks.enumerated() {
            let s = root.scope("blocks.\(i).0")
            var block = PendingBlock(
                bn1: ccbn(s.scope("bn1"), b.inChannels), bn2: ccbn(s.scope("bn2"), b.outChannels),
                conv1: weight(s.scope("conv1"), [b.outChannels, b.inChannels, k, k]), conv1Bias: s.tensor("conv1.bias", shape: [b.outChannels]),
                conv2: weight(s.scope("conv2"), [b.outChannels, b.outChannels, k, k]), conv2Bias: s.tensor("conv2.bias", shape: [b.outChannels]),
                // Every block upsamples, so every block has the learnable 1×1 shortcut.
                shortcut: weight(s.scope("conv_sc"), [b.outChannels, b.inChannels, 1, 1]), shortcutBias: s.tensor("conv_sc.bias", shape: [b.outChannels]))
            if b.attention {
                let a = root.scope("blocks.\(i).1"), c = b.outChannels
                block.attention = (weight(a.scope("theta"), [c / 8, c, 1, 1]), weight(a.scope("phi"), [c / 8, c, 1, 1]),
                                   weight(a.scope("g"), [c / 2, c, 1, 1]), weight(a.scope("o"), [c, c / 2, 1, 1]),
                                   a.tensor("gamma", shape: []))
            }
            pending.append(block)
        }
        let cl = config.blocks[config.blocks.count - 1].outChannels
        let out = root.scope("output_layer")
        let (outMean, outVar) = config.myBN
            ? (out.tensor("0.bn.stored_mean", shape: [cl]), out.tensor("0.bn.stored_var", shape: [cl]))
            : (out.tensor("0.stored_mean", shape: [cl]), out.tensor("0.stored_var", shape: [cl]))
        let outGain = out.tensor("0.gain", shape: [cl]), outBias = out.tensor("0.bias", shape: [cl])
        let outConv = weight(out.scope("2"), [3, cl, k, k])
        let outConvBias = out.tensor("2.bias", shape: [3])
        try params.finish()

        let snEps = config.snEps
        let bnEps = Float(config.bnEps)
        func resolveBN(_ p: PendingBN) throws -> ConditionalBN {
            let c = p.gain.weight.shape[config.sharedEmbedding ? 0 : 1]
            return ConditionalBN(mean: p.mean?.floats() ?? [Float](repeating: 0, count: c),
                                 invStd: p.variance.map { BigGANKernels.inverseStd($0.floats(), eps: bnEps) } ?? [Float](repeating: 1, count: c),
                                 gain: try p.gain.resolve(eps: snEps), bias: try p.bias.resolve(eps: snEps),
                                 classEmbedding: !config.sharedEmbedding)
        }
        self.shared = shared
        self.linearWeight = try linear.resolve(eps: snEps)
        self.linearBias = linearBias
        self.blocks = try pending.map { p in
            Block(bn1: try resolveBN(p.bn1), bn2: try resolveBN(p.bn2),
                  conv1: try p.conv1.resolve(eps: snEps), conv1Bias: p.conv1Bias,
                  conv2: try p.conv2.resolve(eps: snEps), conv2Bias: p.conv2Bias,
                  shortcut: try p.shortcut.resolve(eps: snEps), shortcutBias: p.shortcutBias,
                  attention: try p.attention.map { a in
                      SelfAttention(theta: try a.theta.resolve(eps: snEps), phi: try a.phi.resolve(eps: snEps),
                                    g: try a.g.resolve(eps: snEps), o: try a.o.resolve(eps: snEps), gamma: a.gamma.floats()[0])
                  })
        }
        self.outMean = outMean.floats()
        self.outInvStd = BigGANKernels.inverseStd(outVar.floats(), eps: Float(BigGANConfig.outputBNEps))
        self.outGain = outGain.floats()
        self.outBias = outBias.floats()
        self.outConv = try outConv.resolve(eps: snEps)
        self.outConvBias = outConvBias
        self.parameters = params.bound
    }

    public func generate(_ inputs: GeneratorInputs, trace: TraceSink?) throws -> GeneratorOutput {
        let cfg = bigGANConfig
        let n = inputs.count
        let z = inputs.z.toFloat32()
        guard z.rank == 2, z.shape[1] == zDim else { throw ModelError("z must be [N, \(zDim)], got \(inputs.z.shape)") }
        guard let c = inputs.c?.toFloat32(), c.shape == [n, cDim] else {
            throw ModelError("BigGAN needs a class vector c of shape [\(n), \(cDim)] (one-hot or a mixture)")
        }
        // y = G.shared(class): a one-hot row times the embedding table is the row lookup, exactly.
        let y = try shared.map { try Ops.matmul(c, $0) } ?? c
        // Hierarchical z: chunk 0 feeds `linear`, chunk i+1 joins y for block i ([y, chunk], y first).
        let first = cfg.hierarchical ? try Ops.slice(z, dim: 1, start: 0, end: cfg.zChunk) : z
        func condition(_ i: Int) throws -> Tensor {
            guard cfg.hierarchical else { return y }
            let chunk = try Ops.slice(z, dim: 1, start: (i + 1) * cfg.zChunk, end: (i + 2) * cfg.zChunk)
            return try Ops.concat([y, chunk], dim: 1)
        }
        // `linear` output is viewed NCHW directly (no permute, unlike the HF port).
        var h = try Ops.linear(first, weight: linearWeight, bias: linearBias)
            .reshaped([n, cfg.blocks[0].inChannels, cfg.bottomWidth, cfg.bottomWidth])
        trace?.record("linear", h)

        func norm(_ x: Tensor, _ bn: ConditionalBN, _ yi: Tensor) throws -> Tensor {
            let g: Tensor, b: Tensor
            if bn.classEmbedding {
                g = try Ops.matmul(yi, bn.gain)
                b = try Ops.matmul(yi, bn.bias)
            } else {
                g = try Ops.linear(yi, weight: bn.gain)
                b = try Ops.linear(yi, weight: bn.bias)
            }
            return try BigGANKernels.conditionalNorm(x, mean: bn.mean, invStd: bn.invStd, gain: g.floats().map { 1 + $0 },
                                                     bias: b.floats())
        }

        for (i, block) in blocks.enumerated() {
            let yi = try condition(i)
            var x = try Ops.upsampleNearest(try norm(h, block.bn1, yi), scale: 2)
            x = try Ops.conv2d(x, weight: block.conv1, bias: block.conv1Bias, padding: 1)
            x = try Ops.conv2d(try norm(x, block.bn2, yi), weight: block.conv2, bias: block.conv2Bias, padding: 1)
            var skip = try Ops.upsampleNearest(h, scale: 2)
            if let sc = block.shortcut { skip = try Ops.conv2d(skip, weight: sc, bias: block.shortcutBias) }
            h = try Ops.add(x, skip)
            trace?.record("blocks.\(i).0", h)
            if let attention = block.attention {
                h = try attention(h)
                trace?.record("blocks.\(i).1", h)
            }
        }
        h = try BigGANKernels.conditionalNorm(h, mean: outMean, invStd: outInvStd, gain: outGain, bias: outBias)
        h = try Ops.conv2d(h, weight: outConv, bias: outConvBias, padding: 1)
        trace?.record("output_layer", h)
        return GeneratorOutput(image: Ops.tanh(h))
    }
}
