import TensorStore

/// The container formats the readers recognise, detected by magic bytes (never by extension).
public enum CheckpointFormat: String, Sendable, CaseIterable {
    case safetensors
    case npy
    case npz
    case torchZip = "torch-zip"
    case torchLegacy = "torch-legacy"
    case torchTar = "torch-tar"
    case pickle
    case hdf5
    case kerasArchive = "keras-archive"
}

/// A node of the object tree a checkpoint holds (dicts, lists, module nodes, opaque globals), for `inspect --tree`.
public struct CheckpointTree: Sendable {
    public var label: String
    public var children: [CheckpointTree]
    public init(_ label: String, children: [CheckpointTree] = []) {
        self.label = label
        self.children = children
    }

    /// Indented text, one node per line.
    public func rendered(indent: String = "") -> [String] {
        var lines = [indent + label]
        for c in children { lines += c.rendered(indent: indent + "  ") }
        return lines
    }
}

/// A global a pickle references, with its safety class (for `gan-convert scan`).
public struct GlobalReference: Sendable, Hashable {
    public enum Safety: String, Sendable { case allowed, unknown, dangerous }
    public var module: String
    public var name: String
    public var safety: Safety
    /// Where it sits: the dotted path of the object that references it, or the member / byte offset.
    public var location: String
    public init(module: String, name: String, safety: Safety, location: String) {
        self.module = module
        self.name = name
        self.safety = safety
        self.location = location
    }
    public var qualifiedName: String { "\(module).\(name)" }
}

/// What a reader produced from one file: raw tensors under their raw names, the non-tensor metadata, and the
/// object tree. Mappers take it from here.
public struct Checkpoint: Sendable {
    public var path: String
    public var format: CheckpointFormat
    /// Raw tensors, named by their dotted path as a state_dict would name them.
    public var tensors: TensorStore
    /// Non-tensor metadata (init kwargs, training args, config.json beside the file, Keras model config, …).
    public var metadata: [(String, JSONValue)]
    /// The object tree, when the format has one.
    public var tree: CheckpointTree?
    /// Every global a pickle references (empty for formats without pickles).
    public var globals: [GlobalReference]
    /// Things a user should know but that do not stop the read (unknown harmless classes, skipped members).
    public var warnings: [String]
    /// Family hints the reader noticed (e.g. "NVlabs network pickle", "rosinality").
    public var hints: [String]

    public init(path: String, format: CheckpointFormat, tensors: TensorStore, metadata: [(String, JSONValue)] = [],
                tree: CheckpointTree? = nil, globals: [GlobalReference] = [], warnings: [String] = [], hints: [String] = []) {
        self.path = path
        self.format = format
        self.tensors = tensors
        self.metadata = metadata
        self.tree = tree
        self.globals = globals
        self.warnings = warnings
        self.hints = hints
    }
}

/// Options that change how a file is read.
public struct LoadOptions: Sendable {
    /// Keep dangerous globals as inert nodes instead of refusing the file.
    public var allowDangerousGlobals = false
    /// Largest inflated size accepted for one compressed member.
    public var maxInflatedBytes = 8 << 30
    public init(allowDangerousGlobals: Bool = false) {
        self.allowDangerousGlobals = allowDangerousGlobals
    }
}
