import Engine
import TensorStore

/// StyleGAN2 generator (NVlabs stylegan2-ada-pytorch / stylegan3 `networks_stylegan2`), float32 throughout,
/// constant noise. Canonical parameter names are NVlabs' (`mapping.fc0.weight`, `synthesis.b8.conv0.affine.bias`,
/// `synthesis.b4.conv1.noise_const`, `mapping.w_avg`, …); trace names `mapping`, `synthesis.b<r>.conv0|conv1|torgb`
/// and `synthesis.b<r>` (the image after the block).
public final class StyleGAN2Generator: StyleBasedGenerator {
    public static let architecture = "stylegan2"

    /// One FC layer with its runtime gains folded in (`W·lr/√in`, `b·lr`), as NVlabs computes them.
    struct Dense {
        let weight: Tensor
        let bias: Tensor?

        init(scope: ParameterScope, inFeatures: Int, outFeatures: Int, lr: Float, bias hasBias: Bool = true) throws {
            let w = scope.tensor("weight", shape: [outFeatures, inFeatures])
            let gain = lr / Float(inFeatures).squareRoot()
            weight = Ops.scale(w, gain)
            bias = hasBias ? Ops.scale(scope.tensor("bias", shape: [outFeatures]), lr) : nil
        }

        func callAsFunction(_ x: Tensor, activation: Activation = .linear) throws -> Tensor {
            let y = try Ops.linear(x, weight: weight)
            return try Ops.biasAct(y, bias: bias, dim: 1, activation: activation)
        }
    }

    /// A modulated 3×3 conv (`SynthesisLayer`).
    struct Layer {
        let affine: Dense
        let weight: Tensor
        let bias: Tensor
        /// `noise_const · noise_strength`, `[1, 1, H, W]`.
        let noise: Tensor
        let up: Bool
        /// The style-independent part of the modulation, prepared once (after binding succeeded).
        var modulation: StyleGAN2Modulation?

        init(scope: ParameterScope, inChannels: Int, outChannels: Int, wDim: Int, resolution: Int, up: Bool) throws {
            affine = try Dense(scope: scope.scope("affine"), inFeatures: wDim, outFeatures: inChannels, lr: 1)
            weight = scope.tensor("weight", shape: [outChannels, inChannels, 3, 3])
            bias = scope.tensor("bias", shape: [outChannels])
            let strength = scope.tensor("noise_strength", shape: [])
            let constNoise = scope.tensor("noise_const", shape: [resolution, resolution])
            noise = Ops.scale(constNoise, strength.floats()[0]).reshaped([1, 1, resolution, resolution])
            self.up = up
        }

        /// Called once every parameter is bound (shapes checked).
        mutating func prepare() throws {
            modulation = try StyleGAN2Modulation(weight: weight, transposed: up)
        }
    }

    struct ToRGB {
        let affine: Dense
        let weight: Tensor
        let bias: Tensor
        let styleGain: Float

        init(scope: ParameterScope, inChannels: Int, outChannels: Int, wDim: Int) throws {
            affine = try Dense(scope: scope.scope("affine"), inFeatures: wDim, outFeatures: inChannels, lr: 1)
            weight = scope.tensor("weight", shape: [outChannels, inChannels, 1, 1])
            bias = scope.tensor("bias", shape: [outChannels])
            styleGain = 1 / Float(inChannels).squareRoot()
        }
    }

    struct Block {
        let resolution: Int
        let const: Tensor?
        var conv0: Layer?
        var conv1: Layer
        let torgb: ToRGB?
        /// resnet only: 1×1 up-conv weight with its gain folded in.
        let skip: Tensor?
    }

    public let styleConfig: StyleGAN2Config
    public let source: String
    public let parameters: OrderedDictionary<String, Tensor>
    let embed: Dense?
    /// `label_concat.weight [c_dim, z_dim]` when `labelConcat` (StyleGAN2-TF conditioning).
    let labelConcat: Tensor?
    let fcs: [Dense]
    let wAvg: Tensor?
    let blocks: [Block]
    let filter: Tensor

    public var architecture: String { Self.architecture }
    public var config: JSONValue { styleConfig.json }
    public var zDim: Int { styleConfig.zDim }
    public var cDim: Int { styleConfig.cDim }
    public var outputRange: OutputRange { .minusOneToOne }
    public var summary: String { styleConfig.summary }
    /// W size (for callers slicing `ws`).
    public var styleConfigWDim: Int { styleConfig.wDim }

    public init(config: StyleGAN2Config, params: ParameterBinder, source: String) throws {
        try config.validate()
        self.styleConfig = config
        self.source = source
        let root = params.root
        let mapping = root.scope("mapping")
        let lr = config.mappingLRMultiplier
        labelConcat = config.cDim > 0 && config.labelConcat
            ? mapping.tensor("label_concat.weight", shape: [config.cDim, config.zDim]) : nil
        if config.cDim > 0 && !config.labelConcat {
            embed = try Dense(scope: mapping.scope("embed"), inFeatures: config.cDim, outFeatures: config.embedFeatures, lr: 1)
        } else {
            embed = nil
        }
        var fcs: [Dense] = []
        var inF = config.zDim + (config.cDim > 0 ? config.embedFeatures : 0)
        for i in 0..<config.mappingLayers {
            let outF = i == config.mappingLayers - 1 ? config.wDim : config.mappingFeatures
            fcs.append(try Dense(scope: mapping.scope("fc\(i)"), inFeatures: inF, outFeatures: outF, lr: lr))
            inF = outF
        }
        self.fcs = fcs
        wAvg = mapping.optionalTensor("w_avg", shape: [config.wDim])

        let synthesis = root.scope("synthesis")
        var blocks: [Block] = []
        var previous = 0
        for r in config.resolutions {
            let s = synthesis.scope("b\(r)")
            let c = config.channels[r]!
            let isLast = r == config.imgResolution
            let const = r == 4 ? s.tensor("const", shape: [c, 4, 4]) : nil
            let conv0 = r == 4 ? nil : try Layer(scope: s.scope("conv0"), inChannels: previous, outChannels: c, wDim: config.wDim, resolution: r, up: true)
            let conv1 = try Layer(scope: s.scope("conv1"), inChannels: c, outChannels: c, wDim: config.wDim, resolution: r, up: false)
            let torgb = (isLast || config.architecture == .skip)
                ? try ToRGB(scope: s.scope("torgb"), inChannels: c, outChannels: config.imgChannels, wDim: config.wDim) : nil
            var skip: Tensor? = nil
            if config.architecture == .resnet && r > 4 {
                skip = Ops.scale(s.tensor("skip.weight", shape: [c, previous, 1, 1]), 1 / Float(previous).squareRoot())
            }
            blocks.append(Block(resolution: r, const: const, conv0: conv0, conv1: conv1, torgb: torgb, skip: skip))
            previous = c
        }
        filter = Ops.setupFilter(config.resampleFilter)
        try params.finish()
        for b in blocks.indices {
            try blocks[b].conv0?.prepare()
            try blocks[b].conv1.prepare()
        }
        self.blocks = blocks
        parameters = params.bound
    }

    // MARK: Running

    public func generate(_ inputs: GeneratorInputs, trace: TraceSink?) throws -> GeneratorOutput {
        let ws = try mapping(z: inputs.z, c: inputs.c, truncation: inputs.truncation, truncationCutoff: inputs.truncationCutoff, trace: trace)
        return GeneratorOutput(image: try synthesis(ws: ws, trace: trace), ws: ws)
    }

    public func mapping(z: Tensor, c: Tensor?, truncation: Float, truncationCutoff: Int?, trace: TraceSink?) throws -> Tensor {
        let cfg = styleConfig
        guard z.rank == 2, z.shape[1] == cfg.zDim else { throw ModelError("z must be [N, \(cfg.zDim)], got \(z.shape)") }
        let n = z.shape[0]
        var x = try Ops.pixelNorm(z, dim: 1)
        if let labelConcat {
            guard let c, c.shape == [n, cfg.cDim] else { throw ModelError("this model needs c of shape [\(n), \(cfg.cDim)]") }
            x = try Ops.pixelNorm(try Ops.concat([z, try Ops.matmul(c, labelConcat)], dim: 1), dim: 1)
        } else if let embed {
            guard let c, c.shape == [n, cfg.cDim] else { throw ModelError("this model needs c of shape [\(n), \(cfg.cDim)]") }
            let y = try Ops.pixelNorm(try embed(c), dim: 1)
            x = try Ops.concat([x, y], dim: 1)
        }
        for fc in fcs { x = try fc(x, activation: .lrelu) }
        let numWs = cfg.numWs
        var ws = try Ops.broadcast(x.reshaped([n, 1, cfg.wDim]), to: [n, numWs, cfg.wDim])
        if truncation != 1 {
            guard let wAvg else { throw ModelError("truncation needs the checkpoint's average W (w_avg), which it does not hold") }
            let cutoff = min(truncationCutoff ?? numWs, numWs)
            let avg = try Ops.broadcast(wAvg.reshaped([1, 1, cfg.wDim]), to: [n, numWs, cfg.wDim])
            let truncated = try Ops.lerp(avg, ws, weight: truncation)
            if cutoff >= numWs {
                ws = truncated
            } else {
                ws = try Ops.concat([try Ops.slice(truncated, dim: 1, start: 0, end: cutoff),
                                     try Ops.slice(ws, dim: 1, start: cutoff, end: numWs)], dim: 1)
            }
        }
        trace?.record("mapping", ws)
        return ws
    }

    public func synthesis(ws: Tensor, trace: TraceSink?) throws -> Tensor {
        let cfg = styleConfig
        guard ws.rank == 3, ws.shape[1] == cfg.numWs, ws.shape[2] == cfg.wDim else {
            throw ModelError("ws must be [N, \(cfg.numWs), \(cfg.wDim)], got \(ws.shape)")
        }
        let n = ws.shape[0]
        func w(_ i: Int) throws -> Tensor { try Ops.slice(ws, dim: 1, start: i, end: i + 1).reshaped([n, cfg.wDim]) }
        var x = Tensor(zeros: [0])
        var img: Tensor? = nil
        var wIndex = 0
        let clamp = cfg.convClamp
        let sqrtHalf = Float(0.5).squareRoot()
        for block in blocks {
            let name = "synthesis.b\(block.resolution)"
            if let const = block.const {
                x = try Ops.broadcast(const.reshaped([1] + const.shape), to: [n] + const.shape)
                x = try layer(block.conv1, x, try w(wIndex), gain: 1, clamp: clamp)
                trace?.record(name + ".conv1", x)
            } else if let conv0 = block.conv0 {
                var y: Tensor? = nil
                if let skip = block.skip {
                    // Conv2dLayer(k=1, up=2, bias=False): conv, then the FIR upsample, gain √½.
                    let s = try Ops.conv2d(x, weight: skip)
                    let u = try Ops.upfirdn2d(s, filter: filter, up: 2, padding: Padding2D(x0: 2, x1: 1, y0: 2, y1: 1), gain: 4)
                    y = try Ops.biasAct(u, gain: sqrtHalf, clamp: clamp.map { $0 * sqrtHalf })
                }
                x = try layer(conv0, x, try w(wIndex), gain: 1, clamp: clamp)
                trace?.record(name + ".conv0", x)
                x = try layer(block.conv1, x, try w(wIndex + 1), gain: y == nil ? 1 : sqrtHalf, clamp: clamp)
                trace?.record(name + ".conv1", x)
                if let y { x = try Ops.add(y, x) }
            }
            let convs = block.conv0 == nil ? 1 : 2
            if let previous = img {
                img = try Ops.upfirdn2d(previous, filter: filter, up: 2, padding: Padding2D(x0: 2, x1: 1, y0: 2, y1: 1), gain: 4)
            }
            if let torgb = block.torgb {
                let styles = Ops.scale(try torgb.affine(try w(wIndex + convs)), torgb.styleGain)
                var y = try Ops.modulatedConv2d(x, weight: torgb.weight, styles: styles, demodulate: false)
                y = try Ops.biasAct(y, bias: torgb.bias, dim: 1, activation: .linear, clamp: clamp)
                trace?.record(name + ".torgb", y)
                img = try img.map { try Ops.add($0, y) } ?? y
            }
            if let img { trace?.record(name, img) }
            wIndex += convs
        }
        guard let img else { throw ModelError("the synthesis network produced no image") }
        return img
    }

    /// `SynthesisLayer.forward`, fused modulated conv, constant noise.
    func layer(_ l: Layer, _ x: Tensor, _ w: Tensor, gain: Float, clamp: Float?) throws -> Tensor {
        guard let modulation = l.modulation else { throw ModelError("the synthesis layer was not prepared") }
        let styles = try l.affine(w)
        let (n, i, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = l.weight.shape[0]
        // Per-sample modulated, demodulated weights; one grouped conv over the batch (groups = N).
        let wm = try modulation.modulated(styles: styles)
        var y: Tensor
        if l.up {
            // conv2d_resample's transpose path: grouped conv_transpose2d (stride 2, unflipped weights, already in
            // [N·I, O, 3, 3]), then the 4×4 FIR with padding 1 and gain 4.
            let t = try Ops.convTranspose2d(x.reshaped([1, n * i, h, wd]), weight: wm, stride: 2, groups: n)
            y = try Ops.upfirdn2d(t, filter: filter, padding: Padding2D(1), gain: 4).reshaped([n, o, 2 * h, 2 * wd])
        } else {
            let c = try Ops.conv2d(x.toFloat32().reshaped([1, n * i, h, wd]), weight: wm, padding: 1, groups: n)
            y = c.reshaped([n, o, c.shape[2], c.shape[3]])
        }
        // Noise, bias, lrelu, gain and clamp in one pass over the fresh conv output.
        try StyleGAN2Kernels.addNoiseBiasLReLU(y, noise: l.noise, bias: l.bias, gain: Float(2).squareRoot() * gain,
                                               clamp: clamp.map { $0 * gain })
        return y
    }
}

/// Rebuilds a StyleGAN2 generator from its canonical form.
public enum StyleGAN2Architecture: CanonicalArchitecture {
    public static let architecture = StyleGAN2Generator.architecture
    public static func build(config: JSONValue, params: ParameterBinder, source: String) throws -> Generator {
        try StyleGAN2Generator(config: StyleGAN2Config(json: config), params: params, source: source)
    }
}
