import Checkpoints
import TensorStore

/// TensorFlow-era StyleGAN2 network pickles (NVlabs/stylegan2, state version 4; NVlabs/stylegan2-ada TF, version
/// 5): the `Gs` network's variables onto `StyleGAN2Generator` under NVlabs PyTorch names, the way `legacy.py`
/// converts them — dense `[in,out]` → `[out,in]`, conv HWIO → OIHW, `Conv0_up` and `Skip` kernels flipped
/// spatially, `mod_bias` + 1, `noise{k}` → `noise_const`, `dlatent_avg` → `w_avg`, `LabelEmbed` → `embed`.
/// Dimensions come from the shapes; architecture, clamp, lr multiplier and resample kernel from the static
/// kwargs with the TF code defaults. Formats/stylegan-tf.md has the table and the traps.
public enum StyleGAN2TensorFlowMapper: CheckpointMapper {
    public static let name = "stylegan2-tf"

    static func isStyleGAN2(_ net: TFNetworkPickle) -> Bool {
        net.has("synthesis.4x4.Conv.mod_weight")
    }

    public static func recognises(_ checkpoint: Checkpoint, options: MapperOptions) -> Bool {
        guard let net = TFNetworkPickle(checkpoint) else { return false }
        return isStyleGAN2(net)
    }

    public static func load(_ checkpoint: Checkpoint, options: MapperOptions) throws -> Generator {
        guard let net = TFNetworkPickle(checkpoint), isStyleGAN2(net) else {
            throw ModelError("not a StyleGAN2 TF network pickle (no Gs.synthesis.4x4.Conv.mod_weight)", file: checkpoint.path)
        }
        try checkSupported(net)
        let table = try resolutionTable(net)
        let store = checkpoint.tensors
        let reader = StyleGAN2ShapeReader(file: checkpoint.path, shape: { name in
            guard let r = table[name] else { return nil }
            if let v = r.value { return v.shape }
            guard let raw = r.rawName, let t = store[raw] else { return nil }
            return transformedShape(t.shape, r.transform)
        })
        // The kwarg when the file has it; otherwise the shapes decide (Skip kernels → resnet, no 4x4 ToRGB → orig).
        var architecture = net.kwargs["architecture"]?.stringValue
        if net.has("synthesis.ToRGB_lod0.weight") { architecture = "orig" }   // G_synthesis_stylegan_revised
        if let a = architecture, StyleGAN2Config.Architecture(rawValue: a) == nil {
            throw net.error("architecture '\(a)' is not one of orig, skip, resnet")
        }
        var filter = try net.floats("resample_kernel") ?? [1, 3, 3, 1]
        if filter.isEmpty { filter = [1, 1] }   // resample_kernel=None: TF uses the box filter [1]*factor
        let clamp = try net.optionalDouble("conv_clamp").map { Float($0) }
        var config = try reader.config(architecture: architecture, convClamp: clamp,
                                       mappingLR: Float(try net.double("mapping_lrmul", default: 0.01)),
                                       resampleFilter: filter)
        if let l = net.shape("mapping.LabelConcat.weight") {
            // StyleGAN2-TF conditioning: c·W concatenated to z, normalised together (legacy.py cannot convert it).
            guard l.count == 2, !net.has("mapping.LabelEmbed.weight"), config.zDim == 2 * l[1] else {
                throw ModelError("LabelConcat \(l) does not fit the first mapping layer's \(config.zDim) inputs", file: checkpoint.path,
                                 location: "Gs.mapping.LabelConcat.weight")
            }
            config.cDim = l[0]
            config.zDim = l[1]
            config.embedFeatures = l[1]
            config.labelConcat = true
            do { try config.validate() } catch let e as ModelError { throw e.at(file: checkpoint.path) }
        }
        if let c = config.channels[4], let const = table["synthesis.b4.const"]?.rawName.flatMap({ store[$0]?.shape }),
           const.count == 4, const[1] != c {
            throw net.error("fmap_const \(const[1]) differs from the 4x4 conv's \(c) channels: not supported", at: "Gs.synthesis.4x4.Const.const")
        }
        let p = TFNetworkPickle.prefix
        let mapping = ParameterMapping(
            resolve: { table[$0] },
            owns: { $0.hasPrefix(p) },
            ignorable: { n in
                n == p + "lod" || n == p + "synthesis.lod"
                    || (n.hasPrefix(p + "synthesis.ToRGB_lod") && !n.hasPrefix(p + "synthesis.ToRGB_lod0."))
            })
        let binder = ParameterBinder(raw: store, mapping: mapping, architecture: StyleGAN2Generator.architecture, file: checkpoint.path)
        return try StyleGAN2Generator(config: config, params: binder, source: "nvlabs-tf")
    }

    /// Build options that change the graph beyond what the StyleGAN2 model runs are refused by name.
    static func checkSupported(_ net: TFNetworkPickle) throws {
        for key in ["nonlinearity", "mapping_nonlinearity"] where try net.string(key, default: "lrelu") != "lrelu" {
            throw net.error("\(key)='\(try net.string(key, default: "lrelu"))' is not supported (lrelu only)")
        }
        guard try net.bool("normalize_latents", default: true) else { throw net.error("normalize_latents=False is not supported") }
        try net.requireFullyGrown()
    }

    /// Canonical (NVlabs PyTorch) name → TF variable and transform.
    static func resolutionTable(_ net: TFNetworkPickle) throws -> [String: ParameterResolution] {
        let p = TFNetworkPickle.prefix
        let dense = ParameterTransform.permute([1, 0])
        let conv = ParameterTransform.permute([3, 2, 0, 1])
        // legacy.py flips the up-conv and skip kernels: TF's upsample_conv_2d correlates with the flipped kernel.
        let upConv = ParameterTransform.chain([conv, .flipSpatial])
        var table: [String: ParameterResolution] = [:]
        func raw(_ canonical: String, _ tf: String, _ t: ParameterTransform = .identity) {
            if net.has(tf) { table[canonical] = .raw(p + tf, t) }
        }
        for i in 0..<net.mappingLayerCount {
            raw("mapping.fc\(i).weight", "mapping.Dense\(i).weight", dense)
            raw("mapping.fc\(i).bias", "mapping.Dense\(i).bias")
        }
        raw("mapping.label_concat.weight", "mapping.LabelConcat.weight")
        raw("mapping.embed.weight", "mapping.LabelEmbed.weight", dense)
        raw("mapping.embed.bias", "mapping.LabelEmbed.bias")
        raw("mapping.w_avg", "dlatent_avg")
        guard let const = net.shape("synthesis.4x4.Const.const"), const.count == 4 else {
            throw ModelError("missing or malformed variable", file: net.checkpoint.path, location: p + "synthesis.4x4.Const.const")
        }
        table["synthesis.b4.const"] = .raw(p + "synthesis.4x4.Const.const", .reshape(Array(const.dropFirst())))

        func layer(_ canonical: String, _ tf: String, noise index: Int, resolution r: Int, weight: ParameterTransform) {
            let c = "synthesis." + canonical + ".", t = "synthesis." + tf + "."
            raw(c + "weight", t + "weight", weight)
            raw(c + "bias", t + "bias")
            raw(c + "affine.weight", t + "mod_weight", dense)
            raw(c + "affine.bias", t + "mod_bias", .add(1))   // TF adds the 1 at run time
            if net.has(t + "noise_strength") {
                raw(c + "noise_strength", t + "noise_strength", .reshape([]))
                raw(c + "noise_const", "synthesis.noise\(index)", .reshape([r, r]))
            } else {
                // use_noise=False: no noise variables; a zero strength is the same graph.
                table[c + "noise_strength"] = .computed(Tensor(shape: [], floats: [0]))
                table[c + "noise_const"] = .computed(Tensor(zeros: [r, r]))
            }
        }
        func torgb(_ canonical: String, _ tf: String) {
            let c = "synthesis." + canonical + ".", t = "synthesis." + tf + "."
            raw(c + "weight", t + "weight", conv)
            raw(c + "bias", t + "bias")
            raw(c + "affine.weight", t + "mod_weight", dense)
            raw(c + "affine.bias", t + "mod_bias", .add(1))
        }
        layer("b4.conv1", "4x4.Conv", noise: 0, resolution: 4, weight: conv)
        torgb("b4.torgb", "4x4.ToRGB")
        let resolutions = net.blockResolutions
        for r in resolutions where r > 4 {
            let l2 = r.trailingZeroBitCount
            layer("b\(r).conv0", "\(r)x\(r).Conv0_up", noise: 2 * l2 - 5, resolution: r, weight: upConv)
            layer("b\(r).conv1", "\(r)x\(r).Conv1", noise: 2 * l2 - 4, resolution: r, weight: conv)
            torgb("b\(r).torgb", "\(r)x\(r).ToRGB")
            raw("synthesis.b\(r).skip.weight", "synthesis.\(r)x\(r).Skip.weight", upConv)
        }
        // G_synthesis_stylegan_revised (progressive 'orig'): at lod 0 only the final ToRGB_lod0 is used.
        if let last = resolutions.last, net.has("synthesis.ToRGB_lod0.weight") { torgb("b\(last).torgb", "ToRGB_lod0") }
        return table
    }

    /// The shape a transform produces from a raw shape (for config inference without materialising tensors).
    static func transformedShape(_ shape: [Int], _ t: ParameterTransform) -> [Int]? {
        switch t {
        case .identity, .flipSpatial, .add: return shape
        case let .reshape(s): return s.reduce(1, *) == shape.reduce(1, *) ? s : nil
        case let .permute(axes):
            guard axes.count == shape.count, Set(axes) == Set(0..<shape.count) else { return nil }
            return axes.map { shape[$0] }
        case let .chain(list):
            var s = shape
            for step in list {
                guard let next = transformedShape(s, step) else { return nil }
                s = next
            }
            return s
        }
    }
}
