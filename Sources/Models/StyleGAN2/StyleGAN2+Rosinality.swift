import Checkpoints
import TensorStore

/// rosinality/stylegan2-pytorch `.pt` checkpoints (`g_ema`, `latent_avg`, `noises.noise_N`) onto the same Swift
/// model: every canonical (NVlabs) name is answered by its rosinality counterpart, reshaped where rosinality
/// keeps extra unit axes. No weight flip is needed between the two (both store the up-conv weight as used by
/// `conv_transpose2d`).
public enum StyleGAN2RosinalityMapper: CheckpointMapper {
    public static let name = "stylegan2-rosinality"

    static func prefix(_ checkpoint: Checkpoint) -> String? {
        for p in ["g_ema.", "", "g."] where checkpoint.tensors[p + "conv1.conv.modulation.weight"] != nil
            && checkpoint.tensors[p + "input.input"] != nil { return p }
        return nil
    }

    public static func recognises(_ checkpoint: Checkpoint, options: MapperOptions) -> Bool { prefix(checkpoint) != nil }

    /// Canonical name → (rosinality name, reshape needed?).
    static func rosinalityName(_ canonical: String, prefix p: String, store: TensorStore) -> (String, Bool)? {
        let parts = canonical.split(separator: ".").map(String.init)
        if canonical == "mapping.w_avg" { return store["latent_avg"] != nil ? ("latent_avg", true) : nil }
        if parts.count == 3, parts[0] == "mapping", parts[1].hasPrefix("fc"), let i = Int(parts[1].dropFirst(2)) {
            return (p + "style.\(i + 1).\(parts[2])", false)
        }
        guard parts.count >= 3, parts[0] == "synthesis", parts[1].hasPrefix("b"), let r = Int(parts[1].dropFirst()) else { return nil }
        let j = Int(log2(Double(r)).rounded()) - 3  // b8 → 0
        let rest = parts[2...].joined(separator: ".")
        if r == 4 && rest == "const" { return (p + "input.input", true) }
        let layer: String
        var noiseIndex: Int
        switch parts[2] {
        case "conv1" where r == 4: layer = "conv1"; noiseIndex = 0
        case "conv0": layer = "convs.\(2 * j)"; noiseIndex = 2 * j + 1
        case "conv1": layer = "convs.\(2 * j + 1)"; noiseIndex = 2 * j + 2
        case "torgb": layer = r == 4 ? "to_rgb1" : "to_rgbs.\(j)"; noiseIndex = -1
        default: return nil
        }
        let field = parts[3...].joined(separator: ".")
        switch field {
        case "weight": return (p + layer + ".conv.weight", true)
        case "affine.weight": return (p + layer + ".conv.modulation.weight", false)
        case "affine.bias": return (p + layer + ".conv.modulation.bias", false)
        case "noise_strength": return (p + layer + ".noise.weight", true)
        case "bias": return (p + layer + (parts[2] == "torgb" ? ".bias" : ".activate.bias"), true)
        case "noise_const" where noiseIndex >= 0: return (p + "noises.noise_\(noiseIndex)", true)
        default: return nil
        }
    }

    public static func load(_ checkpoint: Checkpoint, options: MapperOptions) throws -> Generator {
        guard let p = prefix(checkpoint) else { throw ModelError("not a rosinality StyleGAN2 generator", file: checkpoint.path) }
        let store = checkpoint.tensors
        func resolveName(_ canonical: String) -> String? {
            guard let (name, _) = rosinalityName(canonical, prefix: p, store: store), store[name] != nil else { return nil }
            return name
        }
        let reader = StyleGAN2ShapeReader(file: checkpoint.path, shape: { canonical in
            guard let name = resolveName(canonical), let t = store[name] else { return nil }
            // Shapes in canonical form: drop rosinality's leading unit axes.
            switch canonical {
            case "synthesis.b4.const": return Array(t.shape.dropFirst())
            default: return canonical.hasSuffix(".weight") && t.rank == 5 ? Array(t.shape.dropFirst()) : t.shape
            }
        })
        let args = checkpoint.metadata.first { $0.0 == "args" }?.1
        let lr = args?["lr_mlp"]?.doubleValue.map { Float($0) }
        let config = try reader.config(architecture: "skip", convClamp: nil, mappingLR: lr, resampleFilter: nil)
        let mapping = ParameterMapping(
            resolve: { canonical in
                guard let name = resolveName(canonical), let t = store[name] else { return nil }
                guard let (_, reshape) = rosinalityName(canonical, prefix: p, store: store), reshape else { return .raw(name) }
                // Reshape to the canonical shape: squeeze rosinality's unit axes.
                let squeezed: [Int]
                switch canonical {
                case _ where canonical.hasSuffix("noise_strength"): squeezed = []
                case _ where canonical.hasSuffix("noise_const"): squeezed = Array(t.shape.suffix(2))
                case "mapping.w_avg": squeezed = [t.elementCount]
                case _ where canonical.hasSuffix(".bias"): squeezed = [t.elementCount]
                default: squeezed = Array(t.shape.drop { $0 == 1 && t.rank > 4 || $0 == 1 && canonical.hasSuffix("const") })
                }
                return .raw(name, .reshape(squeezed))
            },
            owns: { $0.hasPrefix(p) || $0 == "latent_avg" },
            ignorable: { $0.hasSuffix("blur.kernel") || $0.hasSuffix("upsample.kernel") })
        let binder = ParameterBinder(raw: store, mapping: mapping, architecture: StyleGAN2Generator.architecture, file: checkpoint.path)
        return try StyleGAN2Generator(config: config, params: binder, source: "rosinality")
    }
}

#if canImport(Glibc)
import Glibc
#endif
