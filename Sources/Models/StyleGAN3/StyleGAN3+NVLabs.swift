import Checkpoints
import TensorStore

/// StyleGAN3 network pickles written by NVlabs/stylegan3 (`training/networks_stylegan3.py`): a dict with `G`,
/// `D`, `G_ema`, … whose modules are `torch_utils.persistence` records. Uses `G_ema` (falls back to `G`).
/// The configuration comes from the Generator's `_init_kwargs` (NVlabs defaults for what is left out); the
/// derived layer names, sizes, channels and filter lengths must then match the stored tensors.
/// See Formats/stylegan3.md.
public enum StyleGAN3NVLabsMapper: CheckpointMapper {
    public static let name = "stylegan3-nvlabs"

    /// The generator to use: its raw-name prefix and its init kwargs.
    static func locate(_ checkpoint: Checkpoint) -> (prefix: String, kwargs: JSONValue?)? {
        guard checkpoint.format == .pickle || checkpoint.format == .torchZip || checkpoint.format == .torchLegacy else { return nil }
        let store = checkpoint.tensors
        for key in ["G_ema", "G", "model"] {
            let prefix = key == "model" ? "" : key + "."
            guard store[prefix + "synthesis.input.freqs"] != nil,
                  store.names.contains(where: { $0.hasPrefix(prefix + "synthesis.L0_") }) else { continue }
            let module = checkpoint.metadata.first { $0.0 == key }?.1
            return (prefix, module?["init_kwargs"])
        }
        return nil
    }

    public static func recognises(_ checkpoint: Checkpoint, options: MapperOptions) -> Bool {
        locate(checkpoint) != nil
    }

    public static func load(_ checkpoint: Checkpoint, options: MapperOptions) throws -> Generator {
        guard let (prefix, kwargs) = locate(checkpoint) else {
            throw ModelError("not a StyleGAN3 network pickle (no synthesis.input / synthesis.L0_* tensors)", file: checkpoint.path)
        }
        let at = (prefix.isEmpty ? "model" : String(prefix.dropLast())) + " init_kwargs"
        guard let kwargs else {
            throw ModelError("the generator carries no init kwargs, so its configuration is unknown", file: checkpoint.path, location: at)
        }
        let config = try StyleGAN3Config(kwargs: kwargs, location: at)
        let mapping = ParameterMapping.prefixed(prefix, in: checkpoint.tensors)
        let binder = ParameterBinder(raw: checkpoint.tensors, mapping: mapping, architecture: StyleGAN3Generator.architecture,
                                     file: checkpoint.path)
        do {
            return try StyleGAN3Generator(config: config, params: binder, source: "nvlabs")
        } catch let e as ModelError {
            throw e.at(file: checkpoint.path)
        }
    }
}
