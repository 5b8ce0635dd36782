import TensorStore

/// The shape of a lucidrains gigagan-pytorch `Generator`. Checkpoints hold no constructor arguments, so the
/// mapper infers all of this from parameter names and shapes (`infer`); canonical files store it as JSON.
public struct GigaGANConfig: Equatable, Sendable {
    /// Multi-head attention sizes plus the width of the feed-forward that follows it.
    public struct Attention: Equatable, Sendable {
        public var heads: Int
        public var dimHead: Int
        public var ffHidden: Int
        /// Self-attention only: dot-product similarity with its own `to_k` (true) or negative squared L2
        /// distance with keys shared with the queries (false).
        public var dotProduct: Bool
        public var inner: Int { heads * dimHead }
    }

    /// One generator layer (one resolution).
    public struct Layer: Equatable, Sendable {
        public var dimIn: Int
        public var dimOut: Int
        /// Hidden width of the skip-layer squeeze-excite computed here (applied `skipExciteLayers` later), or nil.
        public var exciteHidden: Int?
        public var selfAttention: Attention?
        public var crossAttention: Attention?
    }

    /// The text transformer in front of the generator (CLIP itself is not part of the model here).
    public struct TextEncoder: Equatable, Sendable {
        /// Width of the precomputed token encodings (CLIP: 512).
        public var inputDim: Int
        /// Width of the transformer (= the style network's text latent).
        public var dim: Int
        public var depth: Int
        public var heads: Int
        public var dimHead: Int
        public var ffHidden: Int
        /// `project_in` is a Linear when `inputDim != dim`, the identity otherwise.
        public var projectsInput: Bool { inputDim != dim }
    }

    public var imageSize: Int
    public var channels: Int
    /// Channels of the learned 4×4 `init_block`.
    public var dimLatent: Int
    /// Kernels mixed per sample by the adaptive convolutions (1 = plain modulated conv).
    public var numConvKernels: Int
    /// Width of the style network = the latent size.
    public var styleDim: Int
    public var styleDepth: Int
    /// EqualLinear learning-rate multiplier, applied to weights and biases (0.1 by default; not stored).
    public var styleLRMul: Double
    /// Distance (in layers) between a squeeze-excite and the layer it gates; 0 when there are none.
    public var skipExciteLayers: Int
    /// 1×1 conv + SiLU + PixelShuffle upsampling instead of bilinear + blur.
    public var pixelShuffleUpsample: Bool
    public var text: TextEncoder?
    public var layers: [Layer]

    public var numLayers: Int { layers.count }
    /// Resolution of layer `i` (4, 8, …, imageSize).
    public func resolution(_ i: Int) -> Int { 4 << i }

    /// Widths of the chunks `style_to_conv_modulations` is split into, in call order.
    public var modulationSplit: [Int] {
        let k = numConvKernels > 1 ? numConvKernels : 0
        var dims = [dimLatent, k]
        for l in layers { dims += [l.dimIn, k, l.dimOut, k, l.dimOut, 0] }
        return dims
    }

    /// One line for `summary`.
    public var summary: String {
        var s = "\(imageSize)×\(imageSize), z \(styleDim) (style depth \(styleDepth)), \(numConvKernels) kernels"
        s += ", channels " + ([dimLatent] + layers.map(\.dimOut)).map(String.init).joined(separator: "→")
        let sa = layers.indices.filter { layers[$0].selfAttention != nil }.map { String(resolution($0)) }
        if !sa.isEmpty { s += ", self-attn at " + sa.joined(separator: ",") }
        if let text {
            let ca = layers.indices.filter { layers[$0].crossAttention != nil }.map { String(resolution($0)) }
            s += ", text \(text.inputDim)→\(text.dim) depth \(text.depth)"
            if !ca.isEmpty { s += ", cross-attn at " + ca.joined(separator: ",") }
        }
        if skipExciteLayers > 0 { s += ", skip excite \(skipExciteLayers)" }
        if pixelShuffleUpsample { s += ", pixel-shuffle upsampling" }
        return s
    }

    /// Checks the sizes fit together (layer chaining, resolutions, excite targets).
    public func validate() throws {
        func fail(_ m: String) -> ModelError { ModelError(m, location: "gigagan config") }
        guard imageSize >= 4, imageSize & (imageSize - 1) == 0 else { throw fail("image size \(imageSize) is not a power of two ≥ 4") }
        guard layers.count >= 1, 4 << (layers.count - 1) == imageSize else {
            throw fail("\(layers.count) layers do not reach \(imageSize)×\(imageSize) from 4×4")
        }
        guard channels >= 1, dimLatent >= 1, numConvKernels >= 1, styleDim >= 1, styleDepth >= 1 else {
            throw fail("sizes must be positive")
        }
        var previous = dimLatent
        for (i, l) in layers.enumerated() {
            guard l.dimIn == previous, l.dimOut >= 1 else { throw fail("layer \(i) takes \(l.dimIn) channels but receives \(previous)") }
            previous = l.dimOut
            if l.exciteHidden != nil {
                guard skipExciteLayers > 0, i + skipExciteLayers < layers.count else {
                    throw fail("layer \(i) has a squeeze-excite with no layer \(skipExciteLayers) further on")
                }
            }
            for a in [l.selfAttention, l.crossAttention].compactMap({ $0 }) {
                guard a.heads >= 1, a.dimHead >= 1, a.ffHidden >= 1 else { throw fail("layer \(i) has an empty attention") }
            }
            if l.crossAttention != nil && text == nil { throw fail("layer \(i) cross-attends but there is no text encoder") }
        }
        if let t = text {
            guard t.inputDim >= 1, t.dim >= 1, t.heads >= 1, t.dimHead >= 1, t.ffHidden >= 1, t.depth >= 0 else {
                throw fail("text encoder sizes must be positive")
            }
        }
    }
}

// MARK: - JSON (the canonical `gankit.config`)

extension GigaGANConfig {
    public var json: JSONValue {
        func attention(_ a: Attention?) -> JSONValue {
            guard let a else { return .null }
            return .object([("heads", .int(a.heads)), ("dim_head", .int(a.dimHead)), ("ff_hidden", .int(a.ffHidden)),
                            ("dot_product", .bool(a.dotProduct))])
        }
        var items: [(String, JSONValue)] = [
            ("image_size", .int(imageSize)), ("channels", .int(channels)), ("dim_latent", .int(dimLatent)),
            ("num_conv_kernels", .int(numConvKernels)), ("style_dim", .int(styleDim)), ("style_depth", .int(styleDepth)),
            ("style_lr_mul", .number(styleLRMul)), ("skip_excite_layers", .int(skipExciteLayers)),
            ("pixel_shuffle_upsample", .bool(pixelShuffleUpsample)),
        ]
        if let t = text {
            items.append(("text_encoder", .object([
                ("input_dim", .int(t.inputDim)), ("dim", .int(t.dim)), ("depth", .int(t.depth)), ("heads", .int(t.heads)),
                ("dim_head", .int(t.dimHead)), ("ff_hidden", .int(t.ffHidden)),
            ])))
        } else {
            items.append(("text_encoder", .null))
        }
        items.append(("layers", .array(layers.map { l in
            .object([("dim_in", .int(l.dimIn)), ("dim_out", .int(l.dimOut)),
                     ("excite_hidden", l.exciteHidden.map { .int($0) } ?? .null),
                     ("self_attn", attention(l.selfAttention)), ("cross_attn", attention(l.crossAttention))])
        })))
        return .object(items)
    }

    public init(json: JSONValue) throws {
        let at = "gigagan config"
        imageSize = try json.int("image_size", in: at)
        channels = try json.int("channels", in: at)
        dimLatent = try json.int("dim_latent", in: at)
        numConvKernels = try json.int("num_conv_kernels", in: at)
        styleDim = try json.int("style_dim", in: at)
        styleDepth = try json.int("style_depth", in: at)
        styleLRMul = json.double("style_lr_mul", default: 0.1)
        skipExciteLayers = json.int("skip_excite_layers", default: 0)
        pixelShuffleUpsample = json.bool("pixel_shuffle_upsample", default: false)
        if let t = json["text_encoder"], t != .null {
            let tat = at + ".text_encoder"
            text = TextEncoder(inputDim: try t.int("input_dim", in: tat), dim: try t.int("dim", in: tat),
                               depth: try t.int("depth", in: tat), heads: try t.int("heads", in: tat),
                               dimHead: try t.int("dim_head", in: tat), ffHidden: try t.int("ff_hidden", in: tat))
        } else {
            text = nil
        }
        guard let list = json["layers"]?.arrayValue else { throw ModelError("'layers' must be an array", location: at) }
        func attention(_ v: JSONValue?, _ where_: String) throws -> Attention? {
            guard let v, v != .null else { return nil }
            return Attention(heads: try v.int("heads", in: where_), dimHead: try v.int("dim_head", in: where_),
                             ffHidden: try v.int("ff_hidden", in: where_), dotProduct: v.bool("dot_product", default: true))
        }
        layers = try list.enumerated().map { i, l in
            let lat = "\(at).layers[\(i)]"
            return Layer(dimIn: try l.int("dim_in", in: lat), dimOut: try l.int("dim_out", in: lat),
                         exciteHidden: l["excite_hidden"]?.intValue,
                         selfAttention: try attention(l["self_attn"], lat + ".self_attn"),
                         crossAttention: try attention(l["cross_attn"], lat + ".cross_attn"))
        }
        try validate()
    }
}
