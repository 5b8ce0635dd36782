import Checkpoints
import TensorStore

/// lucidrains gigagan-pytorch generator checkpoints: the trainer's `model-N.ckpt` (`{'G': state_dict, …}`, plus
/// `G_ema` = an ema-pytorch state dict with `online_model.*` and `ema_model.*` copies), a bare EMA state dict,
/// or a bare `Generator.state_dict()`. The EMA weights are used when present. The configuration is inferred
/// from names and shapes (`GigaGANConfig.infer`); CLIP weights under `text_encoder.clip.` are skipped, since
/// the model takes precomputed CLIP token encodings.
public enum GigaGANLucidrainsMapper: CheckpointMapper {
    public static let name = "gigagan-lucidrains"

    /// Generator prefixes in order of preference.
    static let prefixes = ["G_ema.ema_model.", "ema_model.", "G.", ""]

    /// The prefix of the generator to load, or nil when the file holds no GigaGAN generator.
    static func prefix(in store: TensorStore) -> String? {
        guard !store.metadata.keys.contains(CanonicalMetadata.architecture) else { return nil }
        return prefixes.first { p in
            store[p + "init_block"] != nil && store[p + "init_conv.weights"] != nil
                && store[p + "style_to_conv_modulations.weight"] != nil
        }
    }

    public static func recognises(_ checkpoint: Checkpoint, options: MapperOptions) -> Bool {
        let formats: Set<CheckpointFormat> = [.torchZip, .torchLegacy, .torchTar, .pickle, .safetensors, .npz]
        return formats.contains(checkpoint.format) && prefix(in: checkpoint.tensors) != nil
    }

    public static func load(_ checkpoint: Checkpoint, options: MapperOptions) throws -> Generator {
        let store = checkpoint.tensors
        guard let prefix = prefix(in: store) else {
            throw ModelError("no GigaGAN generator (init_block, init_conv.weights, style_to_conv_modulations) in this file",
                             file: checkpoint.path)
        }
        let config: GigaGANConfig
        do {
            config = try GigaGANConfig.infer(shape: { store[prefix + $0]?.shape },
                                             location: prefix.isEmpty ? "generator" : String(prefix.dropLast()))
        } catch let e as ModelError {
            throw e.at(file: checkpoint.path)
        }
        let clip = prefix + "text_encoder.clip."
        // A bare state dict owns every name; under a prefix, the rest (D, optimizers, the online copy) is not ours.
        let mapping = ParameterMapping(
            resolve: { store[prefix + $0] != nil ? .raw(prefix + $0) : nil },
            owns: { $0.hasPrefix(prefix) && !(prefix.isEmpty && isTrainerState($0)) },
            ignorable: { $0.hasPrefix(clip) })
        let binder = ParameterBinder(raw: store, mapping: mapping, architecture: GigaGANGenerator.architecture,
                                     file: checkpoint.path)
        let source = prefix.contains("ema_model") ? "lucidrains-ema" : "lucidrains"
        return try GigaGANGenerator(config: config, params: binder, source: source)
    }

    /// Non-generator entries a bare file may still carry (ema-pytorch bookkeeping, step counters).
    static func isTrainerState(_ name: String) -> Bool {
        ["initted", "step", "steps", "version"].contains(name)
    }
}
