import Checkpoints
import Models
import TensorStore

/// The library's entry point: any supported checkpoint (or a canonical safetensors written by
/// `gan-convert convert`) in, a typed generator out.
///
/// ```swift
/// let loaded = try GeneratorLoader.load(path: "stylegan2-ffhq.pkl")
/// let z = Tensor(shape: [1, loaded.generator.zDim], floats: GaussianRNG(seed: 0).gaussians(loaded.generator.zDim))
/// let out = try loaded.generator.generate(GeneratorInputs(z: z, truncation: 0.7))
/// // out.image: [1, 3, H, W] float32 in about [-1, 1]
/// ```
public enum GeneratorLoader {
    /// Source mappers, tried in order; the first that recognises a file loads it.
    public static let mappers: [any CheckpointMapper.Type] = FamilyRegistry.mappers

    /// Architectures a canonical safetensors file can name.
    public static let architectures: [any CanonicalArchitecture.Type] = FamilyRegistry.architectures

    /// A generator with where it came from.
    public struct Loaded {
        public var generator: Generator
        public var checkpoint: Checkpoint
        /// The mapper that read it (`canonical` for converted files).
        public var mapper: String
    }

    public static func load(path: String, options: MapperOptions = MapperOptions(),
                            loadOptions: LoadOptions = LoadOptions()) throws -> Loaded {
        let checkpoint = try CheckpointLoader.load(path: path, options: loadOptions)
        return try load(checkpoint: checkpoint, options: options)
    }

    public static func load(checkpoint: Checkpoint, options: MapperOptions = MapperOptions()) throws -> Loaded {
        if let arch = canonicalArchitecture(of: checkpoint) {
            return Loaded(generator: try loadCanonical(checkpoint, architecture: arch), checkpoint: checkpoint, mapper: "canonical")
        }
        for mapper in mappers where mapper.recognises(checkpoint, options: options) {
            do {
                return Loaded(generator: try mapper.load(checkpoint, options: options), checkpoint: checkpoint, mapper: mapper.name)
            } catch var e as ModelError {
                if e.file == nil { e.file = checkpoint.path }
                throw e
            } catch var e as BindingError {
                if e.file == nil { e.file = checkpoint.path }
                throw e
            }
        }
        var hint = "no mapper recognises this \(checkpoint.format.rawValue) file"
        if options.architecture == nil && [.torchZip, .torchLegacy, .pickle].contains(checkpoint.format) {
            hint += "; if it is a plain state dict, describe its layers with --arch FILE.json (Formats/arch-json.md)"
        }
        throw ModelError(hint, file: checkpoint.path)
    }

    /// The `gankit.architecture` a converted file names, if any.
    static func canonicalArchitecture(of checkpoint: Checkpoint) -> String? {
        guard checkpoint.format == .safetensors else { return nil }
        return checkpoint.metadata.first { $0.0 == CanonicalMetadata.architecture }?.1.stringValue
    }

    static func loadCanonical(_ checkpoint: Checkpoint, architecture: String) throws -> Generator {
        let meta = Dictionary(checkpoint.metadata.map { ($0.0, $0.1.stringValue ?? "") }, uniquingKeysWith: { a, _ in a })
        guard let type = architectures.first(where: { $0.architecture == architecture }) else {
            throw ModelError("unknown architecture '\(architecture)' (known: \(architectures.map { $0.architecture }.joined(separator: ", ")))",
                             file: checkpoint.path, location: CanonicalMetadata.architecture)
        }
        guard let text = meta[CanonicalMetadata.config] else {
            throw ModelError("a canonical file needs its config JSON", file: checkpoint.path, location: CanonicalMetadata.config)
        }
        let config: JSONValue
        do {
            config = try JSONValue.parse(text, maxDepth: 64)
        } catch {
            throw ModelError("the config is not valid JSON (\(error))", file: checkpoint.path, location: CanonicalMetadata.config)
        }
        let binder = ParameterBinder(raw: checkpoint.tensors, mapping: .identity(checkpoint.tensors),
                                     architecture: architecture, file: checkpoint.path)
        do {
            return try type.build(config: config, params: binder, source: meta[CanonicalMetadata.source] ?? "canonical")
        } catch let e as ModelError {
            throw e.at(file: checkpoint.path)
        }
    }
}
