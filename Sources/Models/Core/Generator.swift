import TensorStore

/// What a generator is called with. Every family takes the same inputs; families ignore what they do not use.
public struct GeneratorInputs {
    /// Latent codes, float32 `[N, zDim]`.
    public var z: Tensor
    /// Condition vectors, float32 `[N, cDim]` (one-hot class for class-conditional models); nil when unconditional.
    public var c: Tensor?
    /// Truncation psi (StyleGAN: towards the checkpoint's average W). 1 means none.
    public var truncation: Float
    /// StyleGAN v1 convention: truncate only W layers `0 ..< cutoff`; nil means every layer.
    public var truncationCutoff: Int?
    /// Per-layer noise maps in call order, for families that draw noise internally; empty means the family's
    /// own deterministic choice (StyleGAN: the stored constant noise buffers).
    public var noise: [Tensor]
    /// Text-conditional models (GigaGAN): precomputed per-token text encodings `[N, T, D]`; all-zero rows are padding.
    public var textEncodings: Tensor?
    /// Optional `[N, T]` keep-mask for `textEncodings` (non-zero = attend); combined with the all-zero-row rule.
    public var textMask: Tensor?

    public init(z: Tensor, c: Tensor? = nil, truncation: Float = 1, truncationCutoff: Int? = nil, noise: [Tensor] = [],
                textEncodings: Tensor? = nil, textMask: Tensor? = nil) {
        self.z = z
        self.c = c
        self.truncation = truncation
        self.truncationCutoff = truncationCutoff
        self.noise = noise
        self.textEncodings = textEncodings
        self.textMask = textMask
    }

    /// Batch size.
    public var count: Int { z.shape.first ?? 0 }
}

/// What a generator returns.
public struct GeneratorOutput {
    /// The raw image, float32 NCHW, before any clamp or rescale.
    public var image: Tensor
    /// StyleGAN: the mapping output after truncation, `[N, numWs, wDim]`.
    public var ws: Tensor?

    public init(image: Tensor, ws: Tensor? = nil) {
        self.image = image
        self.ws = ws
    }
}

/// Receives named intermediate outputs while a generator runs (names are canonical layer names, in call order).
public protocol TraceSink: AnyObject {
    func record(_ name: String, _ tensor: Tensor)
}

/// A trace sink that keeps everything it is given, in order.
public final class TraceRecorder: TraceSink {
    public private(set) var entries: [(name: String, tensor: Tensor)] = []
    public init() {}
    public func record(_ name: String, _ tensor: Tensor) { entries.append((name, tensor)) }
    public subscript(name: String) -> Tensor? { entries.first { $0.name == name }?.tensor }
}

/// The value range a family's raw output lives in, for turning it into pixels.
public enum OutputRange: String, Sendable {
    /// tanh-style outputs, and StyleGAN's roughly [-1, 1].
    case minusOneToOne = "[-1,1]"
    /// sigmoid outputs.
    case zeroToOne = "[0,1]"
}

/// A typed generator bound to its weights, ready to run on the CPU engine.
public protocol Generator: AnyObject {
    /// The canonical architecture name (`dcgan`, `sequential`, `stylegan2`, …), as written in converted files.
    var architecture: String { get }
    /// Where the weights came from (`pytorch-examples`, `keras`, `nvlabs`, `rosinality`, `canonical`, …).
    var source: String { get }
    /// The architecture configuration, as stored in converted files (`gankit.config`).
    var config: JSONValue { get }
    /// Latent size.
    var zDim: Int { get }
    /// Condition size (number of classes for class-conditional models); 0 when unconditional.
    var cDim: Int { get }
    /// Output value range.
    var outputRange: OutputRange { get }
    /// One line describing the configuration.
    var summary: String { get }
    /// Canonical parameter name → tensor, in the model's order (what a canonical conversion writes).
    var parameters: OrderedDictionary<String, Tensor> { get }
    /// Runs the generator on a batch.
    func generate(_ inputs: GeneratorInputs, trace: TraceSink?) throws -> GeneratorOutput
}

extension Generator {
    public func generate(_ inputs: GeneratorInputs) throws -> GeneratorOutput {
        try generate(inputs, trace: nil)
    }
}

/// A generator with a separate mapping network (StyleGAN): lets callers interpolate in W.
public protocol StyleBasedGenerator: Generator {
    /// Mapping output after truncation, `[N, numWs, wDim]`.
    func mapping(z: Tensor, c: Tensor?, truncation: Float, truncationCutoff: Int?, trace: TraceSink?) throws -> Tensor
    /// Synthesis from W, `[N, numWs, wDim]` → image NCHW.
    func synthesis(ws: Tensor, trace: TraceSink?) throws -> Tensor
}
