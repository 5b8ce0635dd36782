import Engine
import TensorStore

/// StyleGAN v1 (NVlabs `G_style`, TF) on the CPU engine, at lod 0 (the final resolution's ToRGB only).
///
/// Canonical parameters (raw values; the equalised-lr coefficients are applied at run time, as in TF):
/// - `mapping.label_concat.weight [c_dim, z_dim]` (conditional), `mapping.fc{i}.weight [out, in]`, `.bias`,
///   `mapping.w_avg [w_dim]`;
/// - `synthesis.b4.const [C, 4, 4]`; per layer `synthesis.b4.input`, `synthesis.b4.conv`,
///   `synthesis.b{r}.conv0_up`, `synthesis.b{r}.conv1`: `weight [O, I, 3, 3]` (not for `input`),
///   `noise_const [r, r]`, `noise_strength [C]`, `bias [C]`, `style.weight [2C, w_dim]`, `style.bias [2C]`;
/// - `synthesis.torgb.weight [img_channels, C, 1, 1]`, `.bias`.
///
/// Up-convs are stored as the TF kernel (transposed to OIHW, not flipped). Below `fusedUpMinResolution` they run
/// as nearest ×2 + conv; from it on as TF's fused `conv2d_transpose`, which equals nearest ×2 + a correlation
/// with the kernel rotated 180° (Formats/stylegan-tf.md). Both are followed by the blur.
public final class StyleGANv1Generator: StyleBasedGenerator {
    public static let architecture = "stylegan1"

    public let v1Config: StyleGANv1Config
    public let source: String
    public let parameters: OrderedDictionary<String, Tensor>

    /// One synthesis layer: optional conv, then the epilogue (noise, bias, activation, norms, style).
    struct Layer {
        var name: String
        var index: Int
        var resolution: Int
        var channels: Int
        /// Conv weight with the runtime coefficient folded in, oriented for a plain correlation.
        var weight: Tensor?
        var upsample: Bool
        var noise: [Float]?
        var noiseStrength: [Float]
        var bias: [Float]
        /// Style dense layer, coefficient folded in: `[2C, w_dim]`.
        var styleWeight: Tensor
        var styleBias: Tensor
    }

    let labelConcat: Tensor?
    let mappingLayers: [(weight: Tensor, bias: Tensor)]
    let wAvg: Tensor
    let constInput: Tensor
    let layers: [Layer]
    let toRGBWeight: Tensor
    let toRGBBias: Tensor
    let blur: Tensor?

    public var architecture: String { Self.architecture }
    public var config: JSONValue { v1Config.json }
    public var zDim: Int { v1Config.zDim }
    public var cDim: Int { v1Config.cDim }
    public var outputRange: OutputRange { .minusOneToOne }
    public var summary: String {
        var s = "StyleGAN v1 \(v1Config.resolution)×\(v1Config.resolution), z \(zDim), w \(v1Config.wDim), \(v1Config.numWs) ws"
        if cDim > 0 { s += ", \(cDim) labels" }
        s += ", mapping \(v1Config.mappingLayers) layers, channels \(v1Config.channels.map(String.init).joined(separator: "/"))"
        return s
    }

    public init(config: StyleGANv1Config, params: ParameterBinder, source: String) throws {
        try config.validate()
        self.v1Config = config
        self.source = source
        let root = params.root
        let wDim = config.wDim

        // Mapping: coefficient gain/√fan_in·lrmul inside the weight, lrmul on the bias, no post-activation gain.
        let lr = config.mappingLrMultiplier
        let map = root.scope("mapping")
        labelConcat = config.cDim > 0 ? map.tensor("label_concat.weight", shape: [config.cDim, config.zDim]) : nil
        var inF = config.zDim + (config.cDim > 0 ? config.zDim : 0)
        var fcs: [(Tensor, Tensor)] = []
        for i in 0..<config.mappingLayers {
            let outF = i == config.mappingLayers - 1 ? wDim : config.mappingFmaps
            let w = map.tensor("fc\(i).weight", shape: [outF, inF])
            let b = map.tensor("fc\(i).bias", shape: [outF])
            let coef = config.useWScale ? 2.0.squareRoot() / Double(inF).squareRoot() * lr : lr
            fcs.append((Ops.scale(w, Float(coef)), Ops.scale(b, Float(lr))))
            inF = outF
        }
        mappingLayers = fcs
        wAvg = map.tensor("w_avg", shape: [wDim])

        // Synthesis.
        let syn = root.scope("synthesis")
        let c4 = config.channels(at: 4)
        constInput = syn.tensor("b4.const", shape: [c4, 4, 4])
        let convGain = 2.0.squareRoot()
        func conv(_ scope: ParameterScope, inC: Int, outC: Int, rotate: Bool) throws -> Tensor {
            let w = scope.tensor("weight", shape: [outC, inC, 3, 3])
            let coef = config.useWScale ? convGain / Double(9 * inC).squareRoot() : 1
            let scaled = Ops.scale(w, Float(coef))
            return rotate ? try scaled.flippedSpatially() : scaled
        }
        func layer(_ name: String, index: Int, resolution r: Int, channels c: Int, weight: Tensor?, up: Bool) -> Layer {
            let s = syn.scope(name)
            let noise = config.useNoise ? s.tensor("noise_const", shape: [r, r]).floats() : nil
            let strength = config.useNoise ? s.tensor("noise_strength", shape: [c]).floats() : [Float](repeating: 0, count: c)
            let bias = s.tensor("bias", shape: [c]).floats()
            let sw = s.tensor("style.weight", shape: [2 * c, wDim])
            let sb = s.tensor("style.bias", shape: [2 * c])
            let coef = config.useWScale ? 1 / Double(wDim).squareRoot() : 1
            return Layer(name: "synthesis." + name, index: index, resolution: r, channels: c, weight: weight, upsample: up,
                         noise: noise, noiseStrength: strength, bias: bias, styleWeight: Ops.scale(sw, Float(coef)),
                         styleBias: sb)
        }
        var list: [Layer] = []
        list.append(layer("b4.input", index: 0, resolution: 4, channels: c4, weight: nil, up: false))
        list.append(layer("b4.conv", index: 1, resolution: 4, channels: c4,
                          weight: try conv(syn.scope("b4.conv"), inC: c4, outC: c4, rotate: false), up: false))
        var inC = c4
        var r = 8
        while r <= config.resolution {
            let c = config.channels(at: r)
            let l2 = r.trailingZeroBitCount
            let fused = r >= config.fusedUpMinResolution
            list.append(layer("b\(r).conv0_up", index: 2 * l2 - 4, resolution: r, channels: c,
                              weight: try conv(syn.scope("b\(r).conv0_up"), inC: inC, outC: c, rotate: fused), up: true))
            list.append(layer("b\(r).conv1", index: 2 * l2 - 3, resolution: r, channels: c,
                              weight: try conv(syn.scope("b\(r).conv1"), inC: c, outC: c, rotate: false), up: false))
            inC = c
            r *= 2
        }
        layers = list
        let rgbW = syn.tensor("torgb.weight", shape: [config.imageChannels, inC, 1, 1])
        toRGBWeight = Ops.scale(rgbW, Float(config.useWScale ? 1 / Double(inC).squareRoot() : 1))
        toRGBBias = syn.tensor("torgb.bias", shape: [config.imageChannels])
        blur = config.blurFilter.isEmpty ? nil : Ops.setupFilter(config.blurFilter, separable: false)
        try params.finish()
        parameters = params.bound
    }

    // MARK: Running

    public func generate(_ inputs: GeneratorInputs, trace: TraceSink?) throws -> GeneratorOutput {
        let ws = try mapping(z: inputs.z, c: inputs.c, truncation: inputs.truncation,
                             truncationCutoff: inputs.truncationCutoff, trace: trace)
        let image = try synthesis(ws: ws, noise: inputs.noise, trace: trace)
        return GeneratorOutput(image: image, ws: ws)
    }

    public func mapping(z: Tensor, c: Tensor?, truncation psi: Float, truncationCutoff: Int?, trace: TraceSink?) throws -> Tensor {
        let cfg = v1Config
        guard z.rank == 2, z.shape[1] == cfg.zDim, z.shape[0] > 0 else {
            throw ModelError("z must be [N, \(cfg.zDim)], got \(z.shape)", location: "mapping")
        }
        let n = z.shape[0]
        var x = z.toFloat32()
        if let labelConcat {
            guard let c, c.shape == [n, cfg.cDim] else {
                throw ModelError("this model is conditional: c must be [\(n), \(cfg.cDim)], got \(c.map { "\($0.shape)" } ?? "none")",
                                 location: "mapping")
            }
            x = try Ops.concat([x, try Ops.matmul(c.toFloat32(), labelConcat)], dim: 1)
        }
        if cfg.normalizeLatents { x = try Ops.pixelNorm(x, dim: 1, eps: 1e-8) }
        let act = Self.activation(cfg.mappingActivation)
        for (i, fc) in mappingLayers.enumerated() {
            x = Ops.activation(try Ops.linear(x, weight: fc.weight, bias: fc.bias), act)
            trace?.record("mapping.fc\(i)", x)
        }
        // Broadcast to every layer, then lerp towards w_avg: psi on layers < cutoff, 1 on the rest (TF lerps
        // every layer with a per-layer coefficient once truncation is on).
        let numWs = cfg.numWs, wDim = cfg.wDim
        let w = x.floats(), avg = wAvg.floats()
        var out = [Float](repeating: 0, count: n * numWs * wDim)
        let cut = min(max(truncationCutoff ?? numWs, 0), numWs)
        for s in 0..<n {
            for l in 0..<numWs {
                let base = (s * numWs + l) * wDim
                for j in 0..<wDim {
                    let v = w[s * wDim + j]
                    if psi == 1 {
                        out[base + j] = v
                    } else {
                        let t: Float = l < cut ? psi : 1
                        out[base + j] = avg[j] + (v - avg[j]) * t
                    }
                }
            }
        }
        let ws = Tensor(shape: [n, numWs, wDim], floats: out)
        trace?.record("mapping", ws)
        return ws
    }

    public func synthesis(ws: Tensor, trace: TraceSink?) throws -> Tensor {
        try synthesis(ws: ws, noise: [], trace: trace)
    }

    /// Synthesis with optional per-layer noise maps `[N or 1, 1, r, r]` in layer order (empty: the stored ones).
    public func synthesis(ws: Tensor, noise: [Tensor], trace: TraceSink?) throws -> Tensor {
        let cfg = v1Config
        guard ws.rank == 3, ws.shape[1] == cfg.numWs, ws.shape[2] == cfg.wDim, ws.shape[0] > 0 else {
            throw ModelError("ws must be [N, \(cfg.numWs), \(cfg.wDim)], got \(ws.shape)", location: "synthesis")
        }
        guard noise.isEmpty || noise.count == layers.count else {
            throw ModelError("expected \(layers.count) noise maps (one per layer), got \(noise.count)", location: "synthesis")
        }
        let n = ws.shape[0]
        let wAll = ws.toFloat32()
        var x = try Ops.broadcast(constInput.reshaped([1] + constInput.shape), to: [n] + constInput.shape)
        let act = Self.activation(cfg.activation)
        for layer in layers {
            if let weight = layer.weight {
                if layer.upsample { x = try Ops.upsampleNearest(x, scale: 2) }
                x = try Ops.conv2d(x, weight: weight, padding: 1)
                if layer.upsample, let blur { x = try Ops.upfirdn2d(x, filter: blur, padding: Padding2D(blur.shape[0] / 2)) }
            }
            let w = try Ops.slice(wAll, dim: 1, start: layer.index, end: layer.index + 1).reshaped([n, cfg.wDim])
            let style = try Ops.linear(w, weight: layer.styleWeight, bias: layer.styleBias)
            var layerNoise: [Float]? = layer.noise
            var noisePerSample = false
            if !noise.isEmpty {
                let t = noise[layer.index]
                let r = layer.resolution
                guard t.elementCount == r * r || t.elementCount == n * r * r else {
                    throw ModelError("noise map \(layer.index) must be [N or 1, 1, \(r), \(r)], got \(t.shape)", location: layer.name)
                }
                layerNoise = t.floats()
                noisePerSample = t.elementCount == n * r * r && n > 1
            }
            x = try epilogue(x, layer: layer, noise: layerNoise, noisePerSample: noisePerSample, style: style, activation: act)
            trace?.record(layer.name, x)
        }
        let image = try Ops.conv2d(x, weight: toRGBWeight, bias: toRGBBias)
        trace?.record("synthesis.torgb", image)
        return image
    }

    /// `layer_epilogue`: `x + noise·strength[c]`, `+ bias[c]`, activation, optional pixel norm, instance norm
    /// (eps 1e-8), then `x·(s[:C] + 1) + s[C:]`.
    func epilogue(_ x: Tensor, layer: Layer, noise: [Float]?, noisePerSample: Bool, style: Tensor,
                  activation act: Activation) throws -> Tensor {
        let cfg = v1Config
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard c == layer.channels, h == layer.resolution, w == layer.resolution else {
            throw ModelError("activation \(x.shape) does not fit the layer (\(layer.channels) channels at \(layer.resolution)²)",
                             location: layer.name)
        }
        let plane = h * w
        var data = x.floats()
        let strength = layer.noiseStrength, bias = layer.bias
        data.withUnsafeMutableBufferPointer { buf in
            let p = buf.baseAddress!
            Parallel.forEach(n * c) { i in
                let ch = i % c, s = i / c
                let d = p + i * plane
                let b = bias[ch], st = strength[ch]
                if let noise {
                    let off = noisePerSample ? s * plane : 0
                    for k in 0..<plane { d[k] = act.apply(d[k] + noise[off + k] * st + b) }
                } else {
                    for k in 0..<plane { d[k] = act.apply(d[k] + b) }
                }
            }
        }
        var y = Tensor(shape: x.shape, floats: data)
        if cfg.usePixelNorm {
            y = try Ops.pixelNorm(y, dim: 1, eps: 1e-8)
            data = y.floats()
        }
        let st = style.floats()
        let normalize = cfg.useInstanceNorm
        data.withUnsafeMutableBufferPointer { buf in
            let p = buf.baseAddress!
            Parallel.forEach(n * c) { i in
                let ch = i % c, s = i / c
                let d = p + i * plane
                let scale = st[s * 2 * c + ch] + 1, shift = st[s * 2 * c + c + ch]
                if normalize {
                    // TF: subtract the mean, then multiply by rsqrt(mean(x²) + 1e-8); accumulated in double.
                    var sum = 0.0
                    for k in 0..<plane { sum += Double(d[k]) }
                    let mean = Float(sum / Double(plane))
                    var sq = 0.0
                    for k in 0..<plane { let t = Double(d[k] - mean); sq += t * t }
                    let inv = Float(1 / (sq / Double(plane) + 1e-8).squareRoot())
                    for k in 0..<plane { d[k] = ((d[k] - mean) * inv) * scale + shift }
                } else {
                    for k in 0..<plane { d[k] = d[k] * scale + shift }
                }
            }
        }
        return Tensor(shape: x.shape, floats: data)
    }

    static func activation(_ name: String) -> Activation { name == "relu" ? .relu : .lrelu }
}

/// Rebuilds a StyleGAN v1 generator from its canonical form (config JSON + canonical names).
public enum StyleGANv1Architecture: CanonicalArchitecture {
    public static let architecture = StyleGANv1Generator.architecture
    public static func build(config: JSONValue, params: ParameterBinder, source: String) throws -> Generator {
        try StyleGANv1Generator(config: StyleGANv1Config(json: config), params: params, source: source)
    }
}
