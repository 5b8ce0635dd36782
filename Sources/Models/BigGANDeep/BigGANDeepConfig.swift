import TensorStore

/// The configuration of a huggingface pytorch-pretrained-BigGAN model (`BigGANConfig`, its `config.json`), read
/// from that file or, when it is absent, inferred from the tensor shapes.
public struct BigGANDeepConfig: Sendable, Equatable {
    public struct Layer: Sendable, Equatable {
        /// Nearest ×2 upsampling inside the block (and on the skip path).
        public var upsample: Bool
        /// In/out channels as multiples of `channelWidth`.
        public var inMultiplier: Int
        public var outMultiplier: Int
    }

    /// Latent size; also the class-embedding width (the condition vector is `[z, embed]`, 2·zDim wide).
    public var zDim: Int
    public var numClasses: Int
    public var channelWidth: Int
    public var layers: [Layer]
    /// Index into `layers` before which the self-attention module sits (the module list shifts by one after it);
    /// at or past the end means no attention.
    public var attentionLayerPosition: Int
    /// Batch-norm epsilon (also the spectral-norm epsilon, unused at inference).
    public var eps: Double
    /// Number of truncation-indexed batch-norm statistics (51: truncation 0, 0.02, …, 1).
    public var nStats: Int
    /// Kept for the JSON round trip; the port does not use them (`class_embed_dim` ≠ the embedding width).
    public var outputDim: Int?
    public var classEmbedDim: Int?

    /// Channels entering layer `i`.
    public func inChannels(_ i: Int) -> Int { layers[i].inMultiplier * channelWidth }
    public func outChannels(_ i: Int) -> Int { layers[i].outMultiplier * channelWidth }
    public var hasAttention: Bool { attentionLayerPosition >= 0 && attentionLayerPosition < layers.count }

    /// Reads `BigGANConfig.to_json_string()` output (missing keys take that class's defaults).
    public init(json: JSONValue) throws {
        let at = "config.json"
        guard json.objectValue != nil else { throw ModelError("the BigGAN config must be a JSON object", location: at) }
        zDim = json.int("z_dim", default: 128)
        numClasses = json.int("num_classes", default: 1000)
        channelWidth = json.int("channel_width", default: 128)
        attentionLayerPosition = json.int("attention_layer_position", default: 8)
        eps = json.double("eps", default: 1e-4)
        nStats = json.int("n_stats", default: 51)
        outputDim = json["output_dim"]?.intValue
        classEmbedDim = json["class_embed_dim"]?.intValue
        guard let list = json["layers"]?.arrayValue else {
            throw ModelError("'layers' must be a list of [upsample, in_multiplier, out_multiplier]", location: at)
        }
        layers = try list.enumerated().map { i, item in
            guard let a = item.arrayValue, a.count == 3, let up = a[0].boolValue,
                  let m0 = a[1].intValue, let m1 = a[2].intValue, m0 > 0, m1 > 0 else {
                throw ModelError("layers[\(i)] must be [bool, positive int, positive int]", location: at)
            }
            return Layer(upsample: up, inMultiplier: m0, outMultiplier: m1)
        }
        try validate(at: at)
    }

    /// Infers the configuration from a state dict's shapes. Upsampling flags cannot be seen in the weights: every
    /// released model (128, 256, 512) alternates plain and upsampling blocks starting with a plain one, so that
    /// pattern is assumed.
    public init(inferredFrom store: TensorStore) throws {
        func shape(_ name: String) throws -> [Int] {
            guard let t = store[name] else {
                throw ModelError("cannot infer the BigGAN-deep configuration without '\(name)' (or a config.json beside the file)")
            }
            return t.shape
        }
        let embed = try shape("embeddings.weight")
        guard embed.count == 2 else { throw ModelError("embeddings.weight must be 2-D, found \(embed)") }
        zDim = embed[0]
        numClasses = embed[1]
        let bnStats = try shape("generator.bn.running_means")
        guard bnStats.count == 2 else { throw ModelError("generator.bn.running_means must be 2-D, found \(bnStats)") }
        nStats = bnStats[0]
        channelWidth = bnStats[1]
        eps = 1e-4
        outputDim = nil
        classEmbedDim = nil
        var layers: [Layer] = []
        var attention = -1
        var module = 0
        while true {
            let p = "generator.layers.\(module)."
            if store[p + "gamma"] != nil {
                guard attention < 0 else { throw ModelError("more than one self-attention module (at \(p))") }
                attention = layers.count
            } else if let stats = store[p + "bn_0.running_means"] {
                let out = try shape(p + "conv_3.weight_orig")
                guard stats.shape.count == 2, out.count == 4, channelWidth > 0,
                      stats.shape[1] % channelWidth == 0, out[0] % channelWidth == 0 else {
                    throw ModelError("cannot read the channel counts of \(p) (\(stats.shape), \(out))")
                }
                layers.append(Layer(upsample: layers.count % 2 == 1, inMultiplier: stats.shape[1] / channelWidth,
                                    outMultiplier: out[0] / channelWidth))
            } else {
                break
            }
            module += 1
        }
        self.layers = layers
        attentionLayerPosition = attention < 0 ? layers.count : attention
        try validate(at: "shapes")
    }

    func validate(at: String) throws {
        guard zDim > 0, numClasses > 0, channelWidth > 0, nStats >= 2, !layers.isEmpty else {
            throw ModelError("z_dim, num_classes, channel_width must be positive, n_stats ≥ 2 and layers non-empty", location: at)
        }
        guard eps > 0, eps.isFinite else { throw ModelError("eps must be positive", location: at) }
        guard layers[0].inMultiplier == 16 else {
            throw ModelError("the first block must take 16·channel_width channels (gen_z makes 4×4×16·ch), found \(layers[0].inMultiplier)", location: at)
        }
        for (i, l) in layers.enumerated() {
            if i > 0, l.inMultiplier != layers[i - 1].outMultiplier {
                throw ModelError("layers[\(i)] takes \(l.inMultiplier)·ch channels but layers[\(i - 1)] gives \(layers[i - 1].outMultiplier)·ch", location: at)
            }
            // The skip path keeps the first half of the channels when in ≠ out, so out must be in/2.
            if l.inMultiplier != l.outMultiplier, l.inMultiplier * channelWidth != 2 * l.outMultiplier * channelWidth {
                throw ModelError("layers[\(i)] changes \(l.inMultiplier)·ch → \(l.outMultiplier)·ch; the skip path can only halve the channels", location: at)
            }
            if l.inMultiplier * channelWidth < 4 { throw ModelError("layers[\(i)] is too narrow for the ÷4 bottleneck", location: at) }
        }
        if let last = layers.last, last.outMultiplier != 1 {
            throw ModelError("the last block must give channel_width channels (the output batch norm and conv_to_rgb take ch), found \(last.outMultiplier)·ch", location: at)
        }
        if hasAttention, inChannels(attentionLayerPosition) < 8 {
            throw ModelError("the attention block needs at least 8 channels", location: at)
        }
    }

    /// `config.json` as the port writes it (sorted keys).
    public var json: JSONValue {
        var items: [(String, JSONValue)] = [("attention_layer_position", .int(attentionLayerPosition)),
                                            ("channel_width", .int(channelWidth))]
        if let classEmbedDim { items.append(("class_embed_dim", .int(classEmbedDim))) }
        items.append(("eps", .number(eps)))
        items.append(("layers", .array(layers.map { .array([.bool($0.upsample), .int($0.inMultiplier), .int($0.outMultiplier)]) })))
        items.append(("n_stats", .int(nStats)))
        items.append(("num_classes", .int(numClasses)))
        if let outputDim { items.append(("output_dim", .int(outputDim))) }
        items.append(("z_dim", .int(zDim)))
        return .object(items)
    }

    /// Output resolution: 4 doubled by every upsampling block.
    public var resolution: Int { layers.reduce(4) { $1.upsample ? $0 * 2 : $0 } }
}
