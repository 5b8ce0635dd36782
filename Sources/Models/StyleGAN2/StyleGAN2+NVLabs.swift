import Checkpoints
import TensorStore

/// NVlabs StyleGAN2 network pickles (stylegan2-ada-pytorch, stylegan3's `networks_stylegan2`): uses `G_ema`;
/// names are already canonical after the prefix. The configuration comes from the tensors' shapes plus the
/// pickled constructor kwargs (architecture, conv_clamp, mapping lr multiplier, resample filter); fp16 flags
/// are ignored (float32 throughout).
public enum StyleGAN2NVLabsMapper: CheckpointMapper {
    public static let name = "stylegan2-nvlabs"

    /// The prefix in front of `synthesis.b4.const` (`G_ema.` preferred), nil when this is not an NVlabs SG2 G.
    static func prefix(_ checkpoint: Checkpoint) -> String? {
        let suffix = "synthesis.b4.const"
        let candidates = checkpoint.tensors.names.filter { $0.hasSuffix(suffix) }.map { String($0.dropLast(suffix.count)) }
        guard !candidates.isEmpty else { return nil }
        for p in ["G_ema.", "", "G."] where candidates.contains(p) { return p }
        return candidates.first
    }

    public static func recognises(_ checkpoint: Checkpoint, options: MapperOptions) -> Bool {
        guard let p = prefix(checkpoint) else { return false }
        return checkpoint.tensors[p + "synthesis.b4.conv1.affine.weight"] != nil
    }

    public static func load(_ checkpoint: Checkpoint, options: MapperOptions) throws -> Generator {
        guard let p = prefix(checkpoint) else { throw ModelError("not a StyleGAN2 generator", file: checkpoint.path) }
        let store = checkpoint.tensors
        // Constructor kwargs of the module the prefix names (G_ema → metadata "G_ema").
        let moduleKey = p.isEmpty ? "" : String(p.dropLast())
        let kwargs = checkpoint.metadata.first { $0.0 == moduleKey }?.1["init_kwargs"]
        let synthesisKwargs = kwargs?["synthesis_kwargs"]
        func kw(_ key: String) -> JSONValue? {
            if let v = kwargs?[key], v != .null { return v }
            if let v = synthesisKwargs?[key], v != .null { return v }
            return nil
        }
        let reader = StyleGAN2ShapeReader(file: checkpoint.path, shape: { store[p + $0]?.shape })
        let filter = kw("resample_filter")?.arrayValue?.compactMap(\.doubleValue).map { Float($0) }
        let config = try reader.config(architecture: kw("architecture")?.stringValue,
                                       convClamp: kw("conv_clamp")?.doubleValue.map { Float($0) },
                                       mappingLR: kwargs?["mapping_kwargs"]?["lr_multiplier"]?.doubleValue.map { Float($0) },
                                       resampleFilter: filter?.isEmpty == false ? filter : nil)
        let mapping = ParameterMapping(
            resolve: { store[p + $0] != nil ? .raw(p + $0) : nil },
            owns: { $0.hasPrefix(p) && (p.isEmpty ? !$0.hasPrefix("D.") && !$0.hasPrefix("G.") && !$0.hasPrefix("G_ema.") : true) },
            ignorable: { $0.hasSuffix("resample_filter") })
        let binder = ParameterBinder(raw: store, mapping: mapping, architecture: StyleGAN2Generator.architecture, file: checkpoint.path)
        return try StyleGAN2Generator(config: config, params: binder, source: "nvlabs")
    }
}
