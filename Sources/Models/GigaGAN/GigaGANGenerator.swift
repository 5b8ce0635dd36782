import Engine
import TensorStore

/// The lucidrains gigagan-pytorch (0.3.0) `Generator` on the engine.
///
/// z → unit L2 norm (⊕ the text encoder's global token) → EqualLinear/LReLU style network → one linear
/// projection split into per-conv modulations and kernel-selection logits → learned 4×4 block → per layer:
/// upsample, skip-layer excitation, two adaptive modulated convs with noise and LReLU(0.2), self-attention,
/// cross-attention to the text tokens, and a to-RGB added into an upsampled RGB skip sum. The output is that
/// raw sum (no tanh).
///
/// Canonical parameter names are upstream's state-dict paths (`layers.1.3.attn.to_q.weight`, …); trace
/// names are `style`, `init_conv`, `layers.<i>` (features after the layer) and `rgb.<i>`.
public final class GigaGANGenerator: Generator {
    public static let architecture = "gigagan"

    struct Layer {
        var excite: GigaGANModules.SqueezeExcite?
        var conv1: Tensor, noise1: Tensor, conv2: Tensor, noise2: Tensor
        var toRGB: Tensor
        var selfAttention: GigaGANModules.SelfAttentionBlock?
        var crossAttention: GigaGANModules.CrossAttentionBlock?
        var upsample: GigaGANModules.Upsampler?
        var rgbUpsample: GigaGANModules.Upsampler?
    }

    public let gigaConfig: GigaGANConfig
    public let source: String
    public let parameters: OrderedDictionary<String, Tensor>
    /// Style network layers with `lr_mul` already applied (as EqualLinear does on every call).
    let style: [(weight: Tensor, bias: Tensor)]
    let toModulations: (weight: Tensor, bias: Tensor)
    let initBlock: Tensor
    let initConv: Tensor
    let layers: [Layer]
    let textEncoder: GigaGANTextEncoder?

    public var architecture: String { Self.architecture }
    public var config: JSONValue { gigaConfig.json }
    public var zDim: Int { gigaConfig.styleDim }
    public var cDim: Int { 0 }
    /// The trainer saves images clamped to [0, 1].
    public var outputRange: OutputRange { .zeroToOne }
    public var summary: String { gigaConfig.summary }
    /// Noise maps `generate` expects when they are given: two per layer, `[N, 1, r, r]`.
    public var noiseShapes: [Int] { gigaConfig.layers.indices.flatMap { [gigaConfig.resolution($0), gigaConfig.resolution($0)] } }

    public init(config: GigaGANConfig, params: ParameterBinder, source: String) throws {
        try config.validate()
        self.gigaConfig = config
        self.source = source
        let root = params.root
        let k = config.numConvKernels
        let textDim = config.text?.dim ?? 0
        let lr = Float(config.styleLRMul)

        // Binding order follows the upstream state dict (module registration order).
        style = (0..<config.styleDepth).map { d in
            let s = root.scope("style_network.net.\(2 * d)")
            let w = s.tensor("weight", shape: [config.styleDim, d == 0 ? config.styleDim + textDim : config.styleDim])
            let b = s.tensor("bias", shape: [config.styleDim])
            return (Ops.scale(w, lr), Ops.scale(b, lr))
        }
        textEncoder = config.text.map { GigaGANTextEncoder(root.scope("text_encoder"), spec: $0) }
        initBlock = root.tensor("init_block", shape: [config.dimLatent, 4, 4])
        initConv = root.tensor("init_conv.weights", shape: [k, config.dimLatent, config.dimLatent, 3, 3])
        var layers: [Layer] = []
        for (i, spec) in config.layers.enumerated() {
            let s = root.scope("layers.\(i)")
            let (din, dout) = (spec.dimIn, spec.dimOut)
            let excite = spec.exciteHidden.map {
                GigaGANModules.SqueezeExcite(s.scope("0"), dimIn: din, hidden: $0, dimOut: config.layers[i + config.skipExciteLayers].dimIn)
            }
            var layer = Layer(
                excite: excite,
                conv1: s.tensor("1.0.weights", shape: [k, dout, din, 3, 3]),
                noise1: s.tensor("1.1.weight", shape: [dout, 1, 1]),
                conv2: s.tensor("1.3.weights", shape: [k, dout, dout, 3, 3]),
                noise2: s.tensor("1.4.weight", shape: [dout, 1, 1]),
                toRGB: s.tensor("2.weights", shape: [1, config.channels, dout, 1, 1]))
            if let a = spec.selfAttention { layer.selfAttention = .init(s.scope("3"), dim: dout, spec: a) }
            if let a = spec.crossAttention { layer.crossAttention = .init(s.scope("4"), dim: dout, contextDim: textDim, spec: a) }
            if i > 0 { layer.upsample = .init(s.scope("5"), dim: din, pixelShuffle: config.pixelShuffleUpsample) }
            if i + 1 < config.numLayers {
                layer.rgbUpsample = .init(s.scope("6"), dim: config.channels, pixelShuffle: config.pixelShuffleUpsample)
            }
            layers.append(layer)
        }
        self.layers = layers
        let total = config.modulationSplit.reduce(0, +)
        toModulations = (root.tensor("style_to_conv_modulations.weight", shape: [total, config.styleDim]),
                         root.tensor("style_to_conv_modulations.bias", shape: [total]))
        try params.finish()
        self.parameters = params.bound
    }

    public func generate(_ inputs: GeneratorInputs, trace: TraceSink?) throws -> GeneratorOutput {
        let cfg = gigaConfig
        let n = inputs.count
        guard inputs.z.rank == 2, inputs.z.shape[1] == cfg.styleDim, n > 0 else {
            throw ModelError("z must be [N, \(cfg.styleDim)], got \(inputs.z.shape)", location: "gigagan input z")
        }
        let noise = try checkedNoise(inputs.noise, batch: n)

        // Text: global token for the styles, fine tokens and keep-mask for cross-attention.
        var text: GigaGANTextEncoder.Output?
        if let encoder = textEncoder {
            text = try encoder(try textEncodings(inputs, batch: n, dim: encoder.spec.inputDim), mask: inputs.textMask)
        }

        var x = try Ops.l2Normalize(inputs.z.toFloat32(), dim: 1)
        if let text { x = try Ops.concat([x, text.global], dim: 1) }
        for layer in style {
            x = Ops.leakyRelu(try Ops.linear(x, weight: layer.weight, bias: layer.bias), slope: GigaGANMath.leakySlope)
        }
        trace?.record("style", x)

        // Per-sample modulation chunks, in call order.
        let mods = try Ops.linear(x, weight: toModulations.weight, bias: toModulations.bias).floats()
        let split = cfg.modulationSplit, total = split.reduce(0, +)
        var chunkIndex = 0, chunkOffset = 0
        func nextChunk() -> [Float] {
            let width = split[chunkIndex]
            var out = [Float]()
            out.reserveCapacity(n * width)
            for s in 0..<n { out += mods[(s * total + chunkOffset)..<(s * total + chunkOffset + width)] }
            chunkIndex += 1
            chunkOffset += width
            return out
        }
        func conv(_ x: Tensor, _ weights: Tensor, demodulate: Bool = true) throws -> Tensor {
            let mod = nextChunk(), logits = nextChunk()
            return try GigaGANMath.adaptiveConv(x, weights: weights, mod: mod, kernelLogits: logits, demodulate: demodulate)
        }

        let block = initBlock.floats()
        var h = Tensor(shape: [n, cfg.dimLatent, 4, 4], floats: Array([[Float]](repeating: block, count: n).joined()))
        h = try conv(h, initConv)
        trace?.record("init_conv", h)

        var rgb = Tensor(zeros: [n, cfg.channels, 4, 4])
        var excitations: [Tensor?] = Array(repeating: nil, count: cfg.skipExciteLayers)
        for (i, layer) in layers.enumerated() {
            if let up = layer.upsample { h = try up(h) }
            if let se = layer.excite { excitations.append(try se(h)) }
            if !excitations.isEmpty, let g = excitations.removeFirst() { h = GigaGANModules.gate(h, g) }

            h = try conv(h, layer.conv1)
            if let nz = noise { h = GigaGANMath.addNoise(h, weight: layer.noise1, noise: nz[2 * i]) }
            h = Ops.leakyRelu(h, slope: GigaGANMath.leakySlope)
            h = try conv(h, layer.conv2)
            if let nz = noise { h = GigaGANMath.addNoise(h, weight: layer.noise2, noise: nz[2 * i + 1]) }
            h = Ops.leakyRelu(h, slope: GigaGANMath.leakySlope)

            if let sa = layer.selfAttention { h = try sa(h) }
            if let ca = layer.crossAttention, let text { h = try ca(h, context: text.fine, keep: text.keep) }
            trace?.record("layers.\(i)", h)

            rgb = try Ops.add(rgb, try conv(h, layer.toRGB, demodulate: false))
            trace?.record("rgb.\(i)", rgb)
            if let up = layer.rgbUpsample { rgb = try up(rgb) }
        }
        return GeneratorOutput(image: rgb)
    }

    /// The golden's `noise_<i>` maps (two per layer, `[N, 1, r, r]`), or nil for none: upstream draws
    /// `torch.randn` inside each Noise module, so without given maps this port adds nothing (the noise mean).
    func checkedNoise(_ noise: [Tensor], batch n: Int) throws -> [Tensor]? {
        guard !noise.isEmpty else { return nil }
        let sizes = noiseShapes
        guard noise.count == sizes.count else {
            throw ModelError("expected \(sizes.count) noise maps (two per layer), got \(noise.count)", location: "gigagan input noise")
        }
        for (i, t) in noise.enumerated() where t.shape != [n, 1, sizes[i], sizes[i]] {
            throw ModelError("noise_\(i) must be [\(n), 1, \(sizes[i]), \(sizes[i])], got \(t.shape)", location: "gigagan input noise")
        }
        return noise.map { $0.toFloat32() }
    }

    /// The text encodings for a text-conditional model; without any, one all-zero (fully masked) token.
    func textEncodings(_ inputs: GeneratorInputs, batch n: Int, dim: Int) throws -> Tensor {
        guard let te = inputs.textEncodings else { return Tensor(zeros: [n, 1, dim]) }
        guard te.rank == 3, te.shape[0] == n, te.shape[2] == dim, te.shape[1] > 0 else {
            throw ModelError("text encodings must be [\(n), T, \(dim)], got \(te.shape)", location: "gigagan input text_encodings")
        }
        if let m = inputs.textMask, m.shape != [n, te.shape[1]] {
            throw ModelError("the text mask must be [\(n), \(te.shape[1])], got \(m.shape)", location: "gigagan input text_mask")
        }
        return te.toFloat32()
    }
}

/// Rebuilds a GigaGAN generator from its canonical form.
public enum GigaGANArchitecture: CanonicalArchitecture {
    public static let architecture = GigaGANGenerator.architecture
    public static func build(config: JSONValue, params: ParameterBinder, source: String) throws -> Generator {
        try GigaGANGenerator(config: GigaGANConfig(json: config), params: params, source: source)
    }
}
