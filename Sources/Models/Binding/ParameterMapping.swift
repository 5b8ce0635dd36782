import TensorStore

/// How one raw tensor becomes the tensor a model asks for.
public indirect enum ParameterTransform {
    case identity
    /// Same elements, another shape.
    case reshape([Int])
    /// Axes reordered (`permute([3, 2, 0, 1])` turns a Keras HWIO kernel into PyTorch OIHW).
    case permute([Int])
    /// Both spatial (last two) axes reversed.
    case flipSpatial
    /// A constant added to every element (TF `mod_bias` stored without PyTorch's +1).
    case add(Float)
    /// Several transforms, applied left to right.
    case chain([ParameterTransform])

    /// Applies the transform; the result is contiguous float32.
    public func apply(_ t: Tensor) throws -> Tensor {
        switch self {
        case .identity: return t.toFloat32()
        case let .reshape(shape):
            guard shape.reduce(1, *) == t.elementCount else {
                throw ModelError("cannot reshape \(t.shape) to \(shape)")
            }
            return t.toFloat32().reshaped(shape)
        case let .permute(axes): return try t.permuted(axes).toFloat32()
        case .flipSpatial: return try t.toFloat32().flippedSpatially()
        case let .add(v):
            let f = t.toFloat32().floats()
            return Tensor(shape: t.shape, floats: f.map { $0 + v })
        case let .chain(list):
            var x = t
            for step in list { x = try step.apply(x) }
            return x.toFloat32()
        }
    }
}

/// Where a canonical parameter comes from: a raw tensor of the checkpoint (with a transform), or a value the
/// mapper computes (a filter rebuilt from a config, a default).
public struct ParameterResolution {
    public var rawName: String?
    public var transform: ParameterTransform
    public var value: Tensor?

    public static func raw(_ name: String, _ transform: ParameterTransform = .identity) -> ParameterResolution {
        ParameterResolution(rawName: name, transform: transform, value: nil)
    }

    public static func computed(_ value: Tensor) -> ParameterResolution {
        ParameterResolution(rawName: nil, transform: .identity, value: value)
    }
}

/// A mapper's answer to "which raw tensor is canonical parameter X?", plus which raw names it is responsible
/// for (so that leftovers can be reported as unexpected, like a strict `load_state_dict`).
public struct ParameterMapping {
    /// Canonical name → resolution, or nil when the source has no such tensor.
    public var resolve: (String) -> ParameterResolution?
    /// Raw names that belong to the model being built (others — a discriminator, optimizer state — are ignored).
    public var owns: (String) -> Bool
    /// Raw names the model owns but does not need (`num_batches_tracked`, filters rebuilt from the config, …).
    public var ignorable: (String) -> Bool

    public init(resolve: @escaping (String) -> ParameterResolution?,
                owns: @escaping (String) -> Bool = { _ in true },
                ignorable: @escaping (String) -> Bool = { _ in false }) {
        self.resolve = resolve
        self.owns = owns
        self.ignorable = ignorable
    }

    /// Canonical names are raw names (a converted safetensors file).
    public static func identity(_ store: TensorStore) -> ParameterMapping {
        ParameterMapping(resolve: { store[$0] != nil ? .raw($0) : nil })
    }

    /// Canonical names are raw names after a prefix (`G_ema.`, `g_ema.`, `main.`), with per-name overrides.
    public static func prefixed(_ prefix: String, in store: TensorStore,
                                ignorable: @escaping (String) -> Bool = { _ in false }) -> ParameterMapping {
        ParameterMapping(resolve: { store[prefix + $0] != nil ? .raw(prefix + $0) : nil },
                         owns: { $0.hasPrefix(prefix) },
                         ignorable: ignorable)
    }
}
