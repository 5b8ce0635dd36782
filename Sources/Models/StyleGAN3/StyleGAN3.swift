#if canImport(Glibc)
import Glibc
#endif
import Engine
import TensorStore

/// StyleGAN3 ("Alias-Free GAN", configs T and R) on the CPU engine.
///
/// Canonical parameter names are the NVlabs `G` state-dict paths: `mapping.fc{i}.*`, `mapping.embed.*`,
/// `mapping.w_avg`, `synthesis.input.{weight, transform, freqs, phases, affine.*}`,
/// `synthesis.L{i}_{size}_{channels}.{weight, bias, magnitude_ema, up_filter, down_filter, affine.*}`.
/// Trace names: `mapping`, `synthesis.input`, `synthesis.L{i}_…`.
public final class StyleGAN3Generator: StyleBasedGenerator {
    public static let architecture = "stylegan3"

    public let styleGAN3Config: StyleGAN3Config
    public let source: String
    public let parameters: OrderedDictionary<String, Tensor>
    let mappingNetwork: StyleGAN3Mapping
    let input: StyleGAN3Input
    let layers: [StyleGAN3Layer]

    /// The Fourier input's transform, row-major 3×3, as NVlabs' `synthesis.input.transform`: the *inverse* of
    /// the translation/rotation wanted on the image (see `imageTransform(translate:rotateDegrees:)`).
    /// nil uses the checkpoint's stored buffer (normally the identity).
    public var inputTransform: [Float]?

    public var architecture: String { Self.architecture }
    public var config: JSONValue { styleGAN3Config.json }
    public var zDim: Int { styleGAN3Config.zDim }
    public var cDim: Int { styleGAN3Config.cDim }
    public var outputRange: OutputRange { .minusOneToOne }
    /// Names of the synthesis layers in call order.
    public var layerNames: [String] { layers.map(\.geometry.name) }
    public var summary: String {
        let c = styleGAN3Config
        let kind = c.convKernel == 1 && c.useRadialFilters ? "StyleGAN3-R" : c.convKernel == 1 ? "StyleGAN3 (1×1 convs)"
            : c.useRadialFilters ? "StyleGAN3 (radial filters)" : "StyleGAN3-T"
        var s = "\(kind): z \(c.zDim), w \(c.wDim)"
        if c.cDim > 0 { s += ", c \(c.cDim)" }
        s += ", \(c.numWs) ws, input \(input.geometry.channels)×\(input.geometry.size)²"
        s += ", \(layers.count) layers, image \(c.imgChannels)×\(c.imgResolution)×\(c.imgResolution)"
        return s
    }

    /// Builds the model and binds every parameter; all binding problems are reported together.
    public init(config: StyleGAN3Config, params: ParameterBinder, source: String) throws {
        try config.validate(location: "config")
        styleGAN3Config = config
        self.source = source
        let geometry = try config.geometry()
        let root = params.root
        mappingNetwork = StyleGAN3Mapping(root.scope("mapping"), config: config)
        let syn = root.scope("synthesis")
        input = StyleGAN3Input(syn.scope("input"), geometry: geometry.input, wDim: config.wDim)
        layers = geometry.layers.map {
            StyleGAN3Layer(syn.scope($0.name), geometry: $0, wDim: config.wDim, convClamp: config.convClamp)
        }
        try params.finish()
        parameters = params.bound
        let t = input.storedTransform
        guard t.allSatisfy({ $0.isFinite }) else {
            throw ModelError("the stored input transform \(t) is not finite", location: "synthesis.input.transform")
        }
    }

    /// The value to put in `inputTransform` to translate the image by `translate` (in units of the image:
    /// the Fourier grid spans about ±½·size/sampling_rate) and rotate it by `rotateDegrees`, as NVlabs
    /// `gen_images.py` does (it stores the inverse of that transform).
    public static func imageTransform(translate: (x: Double, y: Double) = (0, 0), rotateDegrees: Double = 0) -> [Float] {
        let a = rotateDegrees / 360 * 2 * Double.pi
        let s = sin(a), c = cos(a)
        // m = [[c, s, tx], [−s, c, ty], [0, 0, 1]]; its inverse is [Rᵀ, −Rᵀ·t].
        let (tx, ty) = translate
        let inv: [Double] = [c, -s, -(c * tx - s * ty),
                             s, c, -(s * tx + c * ty),
                             0, 0, 1]
        return inv.map { Float($0) }
    }

    public func mapping(z: Tensor, c: Tensor?, truncation: Float, truncationCutoff: Int?, trace: TraceSink?) throws -> Tensor {
        let ws = try mappingNetwork(z: z, c: c, psi: truncation, cutoff: truncationCutoff)
        trace?.record("mapping", ws)
        return ws
    }

    public func synthesis(ws: Tensor, trace: TraceSink?) throws -> Tensor {
        let c = styleGAN3Config
        guard ws.rank == 3, ws.shape[1] == c.numWs, ws.shape[2] == c.wDim else {
            throw ModelError("ws must be [N, \(c.numWs), \(c.wDim)], got \(ws.shape)", location: "synthesis")
        }
        if let t = inputTransform, t.count != 9 || !t.allSatisfy({ $0.isFinite }) {
            throw ModelError("the input transform must be 9 finite numbers (row-major 3×3), got \(t)", location: "synthesis.input")
        }
        let n = ws.shape[0]
        let w = ws.toFloat32()
        func slot(_ i: Int) throws -> Tensor {
            try Ops.slice(w, dim: 1, start: i, end: i + 1).toFloat32().reshaped([n, c.wDim])
        }
        var x = try input(try slot(0), transform: inputTransform)
        trace?.record("synthesis.input", x)
        for (i, layer) in layers.enumerated() {
            x = try layer(x, try slot(i + 1))
            trace?.record("synthesis." + layer.geometry.name, x)
        }
        if c.outputScale != 1 { x = Ops.scale(x, Float(c.outputScale)) }
        return x
    }

    public func generate(_ inputs: GeneratorInputs, trace: TraceSink?) throws -> GeneratorOutput {
        let ws = try mapping(z: inputs.z, c: inputs.c, truncation: inputs.truncation,
                             truncationCutoff: inputs.truncationCutoff, trace: trace)
        return GeneratorOutput(image: try synthesis(ws: ws, trace: trace), ws: ws)
    }
}

/// Rebuilds a StyleGAN3 generator from its canonical form (config JSON + canonical parameter names).
public enum StyleGAN3Architecture: CanonicalArchitecture {
    public static let architecture = StyleGAN3Generator.architecture
    public static func build(config: JSONValue, params: ParameterBinder, source: String) throws -> Generator {
        try StyleGAN3Generator(config: StyleGAN3Config(kwargs: config, location: CanonicalMetadata.config),
                               params: params, source: source)
    }
}
