import Checkpoints
import TensorStore

/// ajbrock BigGAN-PyTorch generator state dicts (`G_ema.pth`, `G.pth`; legacy torch stream, also TF-Hub ports made
/// by its `TFHub/converter.py`), with the constructor kwargs as `config.json` beside the file when available.
public enum BigGANAjbrockMapper: CheckpointMapper {
    public static let name = "biggan-ajbrock"

    public static func recognises(_ checkpoint: Checkpoint, options: MapperOptions) -> Bool {
        let t = checkpoint.tensors
        return t["linear.weight"] != nil && t["blocks.0.0.conv1.weight"] != nil && t["blocks.0.0.bn1.gain.weight"] != nil
            && (t["output_layer.0.gain"] != nil)
    }

    public static func load(_ checkpoint: Checkpoint, options: MapperOptions) throws -> Generator {
        let store = checkpoint.tensors
        let kwargs = checkpoint.metadata.first(where: { $0.0 == "config.json" })?.1
        let config: BigGANConfig
        do {
            config = try BigGANConfig(shapes: store, kwargs: kwargs)
        } catch let e as ModelError {
            throw e.at(file: checkpoint.path)
        }
        // The singular-value logs (sv0, sv1, …), extra singular vectors (u1, …) and myBN's standing-stat counter
        // belong to the model but play no part in the forward pass.
        let mapping = ParameterMapping(
            resolve: { store[$0] != nil ? .raw($0) : nil },
            ignorable: { name in
                let last = name.split(separator: ".").last.map(String.init) ?? name
                if last == "accumulation_counter" || last == "num_batches_tracked" { return true }
                if last.hasPrefix("sv"), Int(last.dropFirst(2)) != nil { return true }
                if last.hasPrefix("u"), let k = Int(last.dropFirst()), k > 0 { return true }
                return false
            })
        let binder = ParameterBinder(raw: store, mapping: mapping, architecture: BigGANGenerator.architecture, file: checkpoint.path)
        return try BigGANGenerator(config: config, params: binder, source: "ajbrock")
    }
}

/// Rebuilds an ajbrock BigGAN from a canonical file: the resolved config plus its state-dict names.
public enum BigGANArchitecture: CanonicalArchitecture {
    public static let architecture = BigGANGenerator.architecture

    public static func build(config: JSONValue, params: ParameterBinder, source: String) throws -> Generator {
        try BigGANGenerator(config: try BigGANConfig(json: config), params: params, source: source)
    }
}
