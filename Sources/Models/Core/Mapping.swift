import Checkpoints
import TensorStore

/// What a user can tell a mapper beyond the file itself.
public struct MapperOptions {
    /// A sequential architecture description (`--arch FILE.json`, Formats/arch-json.md) for files that do not
    /// say what network they hold.
    public var architecture: JSONValue?
    /// Where that description came from, for messages.
    public var architecturePath: String?

    public init(architecture: JSONValue? = nil, architecturePath: String? = nil) {
        self.architecture = architecture
        self.architecturePath = architecturePath
    }
}

/// Turns one source's checkpoints (NVlabs pickles, rosinality `.pt`, Keras HDF5, …) into a typed generator:
/// detects the family, infers the configuration, binds the parameters by path.
public protocol CheckpointMapper: Sendable {
    /// `stylegan2-nvlabs`, `dcgan-pytorch`, …
    static var name: String { get }
    /// A cheap look at names, metadata and hints: does this mapper handle the checkpoint?
    static func recognises(_ checkpoint: Checkpoint, options: MapperOptions) -> Bool
    static func load(_ checkpoint: Checkpoint, options: MapperOptions) throws -> Generator
}

/// A Swift model that can be rebuilt from its canonical form: the config JSON plus canonical parameter names
/// (what `gan-convert convert` writes without `--raw`).
public protocol CanonicalArchitecture: Sendable {
    /// The value of `gankit.architecture`.
    static var architecture: String { get }
    static func build(config: JSONValue, params: ParameterBinder, source: String) throws -> Generator
}

/// Keys of the metadata a canonical safetensors file carries.
public enum CanonicalMetadata {
    public static let architecture = "gankit.architecture"
    public static let config = "gankit.config"
    public static let source = "gankit.source"
    public static let sourceFile = "gankit.source_file"
    public static let sourceSHA256 = "gankit.source_sha256"
    public static let sourceFormat = "gankit.source_format"
}
