import Checkpoints
import TensorStore

/// huggingface pytorch-pretrained-BigGAN `pytorch_model.bin` (a legacy-format state dict, tensors often
/// non-contiguous views of TF-layout storage — the reader gathers them by stride) with its `config.json` beside
/// it, or without one (configuration inferred from the shapes).
public enum BigGANDeepHFMapper: CheckpointMapper {
    public static let name = "biggan-deep-huggingface"

    public static func recognises(_ checkpoint: Checkpoint, options: MapperOptions) -> Bool {
        let t = checkpoint.tensors
        return t["embeddings.weight"] != nil && t["generator.gen_z.weight_orig"] != nil
    }

    public static func load(_ checkpoint: Checkpoint, options: MapperOptions) throws -> Generator {
        let store = checkpoint.tensors
        let config: BigGANDeepConfig
        if let json = checkpoint.metadata.first(where: { $0.0 == "config.json" })?.1 {
            do {
                config = try BigGANDeepConfig(json: json)
            } catch let e as ModelError {
                throw e.at(file: checkpoint.path)
            }
        } else {
            config = try BigGANDeepConfig(inferredFrom: store)
        }
        let binder = ParameterBinder(raw: store, mapping: .identity(store), architecture: BigGANDeepGenerator.architecture,
                                     file: checkpoint.path)
        return try BigGANDeepGenerator(config: config, params: binder, source: "huggingface")
    }
}

/// Rebuilds BigGAN-deep from a canonical file: the port's `config.json` plus its state-dict names.
public enum BigGANDeepArchitecture: CanonicalArchitecture {
    public static let architecture = BigGANDeepGenerator.architecture

    public static func build(config: JSONValue, params: ParameterBinder, source: String) throws -> Generator {
        try BigGANDeepGenerator(config: try BigGANDeepConfig(json: config), params: params, source: source)
    }
}
