import Checkpoints
import Models
import TensorStore

/// Writes a generator under its canonical parameter names plus the metadata needed to rebuild it without a
/// mapper (Formats/canonical-names.md): architecture, config JSON, source family, source file and its sha256.
public enum CanonicalConverter {
    public struct Result {
        public var architecture: String
        public var source: String
        public var tensors: Int
        public var bytes: Int
        public var sourceSHA256: String
    }

    /// The store a canonical conversion writes.
    public static func canonicalStore(_ loaded: GeneratorLoader.Loaded) throws -> TensorStore {
        let g = loaded.generator
        var store = TensorStore(tensors: g.parameters)
        store.metadata["format"] = "pt"
        store.metadata[CanonicalMetadata.architecture] = g.architecture
        store.metadata[CanonicalMetadata.config] = g.config.serialized()
        store.metadata[CanonicalMetadata.source] = g.source
        let name = loaded.checkpoint.path.split(separator: "/").last.map(String.init) ?? loaded.checkpoint.path
        store.metadata[CanonicalMetadata.sourceFile] = name
        store.metadata[CanonicalMetadata.sourceFormat] = loaded.checkpoint.format.rawValue
        store.metadata[CanonicalMetadata.sourceSHA256] = try SHA256.hexDigest(ofFile: loaded.checkpoint.path)
        return store
    }

    /// Loads `checkpoint` through its mapper and writes the canonical safetensors to `output`.
    public static func convert(_ checkpoint: Checkpoint, to output: String, options: MapperOptions = MapperOptions(),
                               overwrite: Bool = false, progress: ((Int, Int) -> Void)? = nil) throws -> Result {
        let loaded = try GeneratorLoader.load(checkpoint: checkpoint, options: options)
        let store = try canonicalStore(loaded)
        try SafeTensors.write(store, to: output, overwrite: overwrite, progress: progress)
        return Result(architecture: loaded.generator.architecture, source: loaded.generator.source,
                      tensors: store.count, bytes: store.totalBytes,
                      sourceSHA256: store.metadata[CanonicalMetadata.sourceSHA256] ?? "")
    }

    /// True when a mapper (or a converted file's metadata) can give this checkpoint canonical names.
    public static func canConvert(_ checkpoint: Checkpoint, options: MapperOptions = MapperOptions()) -> Bool {
        if GeneratorLoader.canonicalArchitecture(of: checkpoint) != nil { return true }
        return GeneratorLoader.mappers.contains { $0.recognises(checkpoint, options: options) }
    }
}
