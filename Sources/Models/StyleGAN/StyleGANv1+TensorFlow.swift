import Checkpoints
import TensorStore

/// Official StyleGAN v1 network pickles (NVlabs/stylegan, TF; `karras2019stylegan-*.pkl`, state version 3): the
/// `Gs` network's variables onto `StyleGANv1Generator`. Dimensions come from the variable shapes, the rest from
/// the networks' `static_kwargs` with the `G_style`/`G_mapping`/`G_synthesis` code defaults for what the file
/// leaves out. Formats/stylegan-tf.md has the name table and the traps.
public enum StyleGANv1TensorFlowMapper: CheckpointMapper {
    public static let name = "stylegan1-tf"

    static func isV1(_ net: TFNetworkPickle) -> Bool {
        if net.has("synthesis.4x4.Const.StyleMod.weight") || net.has("synthesis.4x4.Conv.StyleMod.weight") { return true }
        return net.version == 3 && net.buildFuncName == "G_style"
    }

    public static func recognises(_ checkpoint: Checkpoint, options: MapperOptions) -> Bool {
        guard let net = TFNetworkPickle(checkpoint) else { return false }
        return isV1(net)
    }

    public static func load(_ checkpoint: Checkpoint, options: MapperOptions) throws -> Generator {
        guard let net = TFNetworkPickle(checkpoint), isV1(net) else {
            throw ModelError("not a StyleGAN v1 TF network pickle (no Gs.synthesis.4x4.*.StyleMod variables)", file: checkpoint.path)
        }
        let config = try inferConfig(net)
        let binder = ParameterBinder(raw: checkpoint.tensors, mapping: mapping(config, net), architecture: StyleGANv1Generator.architecture,
                                     file: checkpoint.path)
        return try StyleGANv1Generator(config: config, params: binder, source: "nvlabs-tf")
    }

    /// The configuration from shapes first, then static kwargs, then the TF code defaults.
    static func inferConfig(_ net: TFNetworkPickle) throws -> StyleGANv1Config {
        func need(_ path: String, rank: Int) throws -> [Int] {
            guard let s = net.shape(path) else {
                throw ModelError("missing variable", file: net.checkpoint.path, location: TFNetworkPickle.prefix + path)
            }
            guard s.count == rank else {
                throw ModelError("expected a rank-\(rank) variable, found shape \(s)", file: net.checkpoint.path,
                                 location: TFNetworkPickle.prefix + path)
            }
            return s
        }
        // Unsupported build options would change the graph, not just the numbers: refuse them by name.
        guard try net.bool("use_styles", default: true) else { throw net.error("use_styles=False is not supported") }
        guard try net.bool("const_input_layer", default: true) else { throw net.error("const_input_layer=False is not supported") }
        try net.requireFullyGrown()
        let resolutions = net.blockResolutions
        guard resolutions.first == 4, let resolution = resolutions.last,
              resolutions.enumerated().allSatisfy({ $0.element == 4 << $0.offset }) else {
            throw ModelError("synthesis blocks \(resolutions.map { "\($0)x\($0)" }) are not 4x4, 8x8, … in steps of two",
                             file: net.checkpoint.path, location: "Gs.synthesis")
        }
        if let r = try net.optionalInt("resolution"), r != resolution {
            throw net.error("resolution \(r) does not match the \(resolution)x\(resolution) blocks the file holds")
        }
        var channels = [try need("synthesis.4x4.Const.const", rank: 4)[1]]
        for r in resolutions.dropFirst() { channels.append(try need("synthesis.\(r)x\(r).Conv1.weight", rank: 4)[3]) }
        let wDim = try need("synthesis.4x4.Const.StyleMod.weight", rank: 2)[0]
        let imageChannels = try need("synthesis.ToRGB_lod0.weight", rank: 4)[3]

        let layers = net.mappingLayerCount
        guard layers >= 1 else {
            throw ModelError("no mapping layers (Gs.mapping.Dense0.weight)", file: net.checkpoint.path, location: "Gs.mapping")
        }
        let dense0 = try need("mapping.Dense0.weight", rank: 2)
        var zDim = dense0[0], cDim = 0
        if net.has("mapping.LabelConcat.weight") {
            let l = try need("mapping.LabelConcat.weight", rank: 2)
            cDim = l[0]
            zDim = l[1]
        }
        let fmaps = layers > 1 ? dense0[1] : try net.int("mapping_fmaps", default: 512)

        let fusedMin: Int
        switch net.kwargs["fused_scale"] {
        case .bool(true)?: fusedMin = 8
        case .bool(false)?: fusedMin = resolution * 2
        case nil, .null?, .string("auto")?: fusedMin = 128
        case let v?: throw net.error("fused_scale must be True, False or 'auto' (found \(v.serialized()))")
        }
        let config = StyleGANv1Config(
            zDim: zDim, cDim: cDim, wDim: wDim, resolution: resolution, imageChannels: imageChannels, channels: channels,
            mappingLayers: layers, mappingFmaps: fmaps,
            mappingLrMultiplier: try net.double("mapping_lrmul", default: 0.01),
            mappingActivation: try net.string("mapping_nonlinearity", default: "lrelu"),
            activation: try net.string("nonlinearity", default: "lrelu"),
            normalizeLatents: try net.bool("normalize_latents", default: true),
            useWScale: try net.bool("use_wscale", default: true),
            useNoise: try net.bool("use_noise", default: true) && net.has("synthesis.noise0"),
            usePixelNorm: try net.bool("use_pixel_norm", default: false),
            useInstanceNorm: try net.bool("use_instance_norm", default: true),
            fusedUpMinResolution: fusedMin,
            blurFilter: try net.floats("blur_filter") ?? [1, 2, 1])
        do {
            try config.validate()
        } catch let e as ModelError {
            throw e.at(file: net.checkpoint.path)
        }
        return config
    }

    /// Canonical name → TF variable, with the layout changes (dense `[in,out]` → `[out,in]`, conv HWIO → OIHW).
    static func mapping(_ cfg: StyleGANv1Config, _ net: TFNetworkPickle) -> ParameterMapping {
        let p = TFNetworkPickle.prefix
        var table: [String: ParameterResolution] = [:]
        let dense = ParameterTransform.permute([1, 0])
        let conv = ParameterTransform.permute([3, 2, 0, 1])
        table["mapping.label_concat.weight"] = .raw(p + "mapping.LabelConcat.weight")
        for i in 0..<cfg.mappingLayers {
            table["mapping.fc\(i).weight"] = .raw(p + "mapping.Dense\(i).weight", dense)
            table["mapping.fc\(i).bias"] = .raw(p + "mapping.Dense\(i).bias")
        }
        table["mapping.w_avg"] = .raw(p + "dlatent_avg")
        let c4 = cfg.channels(at: 4)
        table["synthesis.b4.const"] = .raw(p + "synthesis.4x4.Const.const", .reshape([c4, 4, 4]))
        func layer(_ canonical: String, _ tf: String, index: Int, resolution r: Int) {
            let c = "synthesis." + canonical + ".", t = p + "synthesis." + tf + "."
            table[c + "weight"] = .raw(t + "weight", conv)
            table[c + "noise_strength"] = .raw(t + "Noise.weight")
            table[c + "noise_const"] = .raw(p + "synthesis.noise\(index)", .reshape([r, r]))
            table[c + "bias"] = .raw(t + "bias")
            table[c + "style.weight"] = .raw(t + "StyleMod.weight", dense)
            table[c + "style.bias"] = .raw(t + "StyleMod.bias")
        }
        layer("b4.input", "4x4.Const", index: 0, resolution: 4)
        layer("b4.conv", "4x4.Conv", index: 1, resolution: 4)
        var r = 8
        while r <= cfg.resolution {
            let l2 = r.trailingZeroBitCount
            layer("b\(r).conv0_up", "\(r)x\(r).Conv0_up", index: 2 * l2 - 4, resolution: r)
            layer("b\(r).conv1", "\(r)x\(r).Conv1", index: 2 * l2 - 3, resolution: r)
            r *= 2
        }
        table["synthesis.torgb.weight"] = .raw(p + "synthesis.ToRGB_lod0.weight", conv)
        table["synthesis.torgb.bias"] = .raw(p + "synthesis.ToRGB_lod0.bias")
        let resolved = table
        return ParameterMapping(
            resolve: { resolved[$0] },
            owns: { $0.hasPrefix(p) },
            // Lower-lod ToRGBs serve progressive growing only; lod is checked above.
            ignorable: { n in
                n == p + "lod" || n == p + "synthesis.lod"
                    || (n.hasPrefix(p + "synthesis.ToRGB_lod") && !n.hasPrefix(p + "synthesis.ToRGB_lod0."))
            })
    }
}
