import TensorStore

/// Family hints a reader can give without any architecture knowledge beyond the file's own structure.
enum FamilyHints {
    static func hints(root: PickleValue, names: [String]) -> [String] {
        var out: [String] = []
        switch root {
        case let .dict(d):
            let modules = d.items.compactMap { k, v in ModuleNode.of(v).map { (ObjectGraphWalker.keyName(k), $0) } }
            if modules.contains(where: { $0.1.source == .persistence }) {
                out.append("NVlabs network pickle")
                let g = modules.first(where: { $0.0 == "G_ema" })?.1 ?? modules.first(where: { $0.0 == "G" })?.1
                if let syn = g?.submodule("synthesis") {
                    let subs = syn.submoduleNames
                    if subs.contains("input") && subs.contains(where: { $0.hasPrefix("L0_") }) {
                        let radial = syn.state["_init_kwargs"].flatMap { kw -> Bool? in
                            guard case let .bool(b)? = kw.dictValue?["use_radial_filters"] else { return nil }
                            return b
                        } ?? g?.initKwargs?.dictValue?["conv_kernel"]?.intValue.map { $0 == 1 }
                        out.append(radial == true ? "StyleGAN3-R (NVlabs)" : "StyleGAN3 (NVlabs)")
                    } else if subs.contains("b4") {
                        out.append("StyleGAN2 (NVlabs)")
                    }
                }
            } else if !modules.isEmpty {
                out.append("pickled torch.nn modules")
            }
            let keys = Set(d.keys.compactMap(\.stringValue))
            if keys.contains("g_ema") || (keys.contains("latent_avg") && keys.contains("args")) {
                out.append("rosinality stylegan2-pytorch checkpoint")
            }
            if keys.contains("G") && keys.contains("steps") && keys.contains("version") {
                out.append("lucidrains trainer checkpoint (G, steps, version)")
            }
            if !d.values.isEmpty && d.values.allSatisfy({ if case .tensor = $0 { return true } else { return false } }) {
                out.append("state_dict")
            }
        case let .tuple(t):
            let nets = t.items.compactMap { TFNetworkNode.of($0) }
            if !nets.isEmpty && nets.count == t.count {
                out.append("TF network pickle")
                let v = nets.compactMap(\.version).max() ?? 0
                if v <= 3 { out.append("StyleGAN v1 (TF)") } else if v == 4 { out.append("StyleGAN2 (TF)") } else { out.append("StyleGAN2-ADA (TF)") }
            }
        case .object:
            if ModuleNode.of(root) != nil { out.append("pickled torch.nn module") }
        default:
            break
        }
        if names.contains(where: { $0.hasPrefix("generator.layers.") }) && names.contains("embeddings.weight") {
            out.append("huggingface pytorch-pretrained-BigGAN")
        }
        if names.contains(where: { $0.hasSuffix(".sv0") }) && names.contains(where: { $0.hasSuffix(".u0") }) {
            out.append("spectral norm buffers (u0/sv0): ajbrock BigGAN-PyTorch layout")
        }
        return out
    }
}
