import Checkpoints
import TensorStore

/// Files that do not say what network they hold (plain state dicts, Keras weights-only files) plus a
/// sequential description the user writes (`--arch FILE.json`, Formats/arch-json.md). Each layer names the raw
/// tensors it takes, by a `"params"` prefix or an explicit `"weights"` map; `"layout": "keras"` brings Keras
/// kernels to PyTorch layouts.
public enum SequentialArchFileMapper: CheckpointMapper {
    public static let name = "arch-file"

    public static func recognises(_ checkpoint: Checkpoint, options: MapperOptions) -> Bool {
        options.architecture != nil
    }

    public static func load(_ checkpoint: Checkpoint, options: MapperOptions) throws -> Generator {
        guard let json = options.architecture else { throw ModelError("no architecture description given", file: checkpoint.path) }
        let archFile = options.architecturePath ?? "--arch"
        let config: SequentialConfig
        do { config = try SequentialConfig(json: json) } catch var e as ModelError {
            e.file = archFile
            throw e
        }
        let layout = json.string("layout", default: "pytorch")
        guard layout == "pytorch" || layout == "keras" else {
            throw ModelError("\"layout\" must be \"pytorch\" or \"keras\"", file: archFile, location: "layout")
        }
        let keras = layout == "keras"
        let rawLayers = json["layers"]?.arrayValue ?? []
        let store = checkpoint.tensors
        var b = SequentialBuilder()
        for (i, layer) in config.layers.enumerated() {
            let spec = rawLayers[i]
            let prefix = spec["params"]?.stringValue
            let explicit = spec["weights"]
            b.append(layer) { suffix, index in
                let transform = keras ? kerasTransform(layer, suffix) : .identity
                if let name = explicit?[suffix]?.stringValue { return .raw(name, transform) }
                guard let prefix else { return nil }
                for candidate in candidates(prefix: prefix, suffix: suffix, index: index, layer: layer, keras: keras) where store[candidate] != nil {
                    return .raw(candidate, transform)
                }
                return .raw(prefix + "." + suffix, transform)
            }
        }
        let ignored = (json["ignore_prefixes"]?.arrayValue ?? []).compactMap(\.stringValue)
        var out = config
        out.origin = keras ? "keras" : "pytorch"
        return try b.build(config: out, checkpoint: checkpoint, source: keras ? "keras-weights+arch" : "state-dict+arch",
                           owns: { name in !ignored.contains { name.hasPrefix($0) } },
                           ignorable: { $0.hasSuffix("num_batches_tracked") })
    }

    /// Raw names tried for a parameter: PyTorch `prefix.suffix`; Keras `prefix.<role>:0`, `prefix.<role>`,
    /// `prefix.<variable index>` (Keras 3 `vars/<i>`).
    static func candidates(prefix: String, suffix: String, index: Int, layer: SequentialLayer, keras: Bool) -> [String] {
        guard keras else { return [prefix + "." + suffix] }
        let role: String
        if case .batchNorm = layer {
            role = ["weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"][suffix] ?? suffix
        } else {
            role = suffix == "weight" ? "kernel" : suffix
        }
        return [prefix + "." + role + ":0", prefix + "." + role, prefix + "." + String(index)]
    }

    static func kerasTransform(_ layer: SequentialLayer, _ suffix: String) -> ParameterTransform {
        guard suffix == "weight" else { return .identity }
        switch layer {
        case .linear: return .permute([1, 0])
        case .conv2d, .convTranspose2d: return .permute([3, 2, 0, 1])
        default: return .identity
        }
    }
}
