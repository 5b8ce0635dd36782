import TensorStore

extension GigaGANConfig {
    /// Infers the configuration from canonical parameter names and shapes (the state dict without its prefix).
    ///
    /// Everything is determined by shapes except two things a state dict cannot say:
    /// - the head split of cross-attention (it has no `null_kv`): taken from a self-attention or text-attention
    ///   of the same model with the same inner width, else upstream's default head width 64, else 8 heads;
    /// - the style network's `lr_mul` (upstream default 0.1 is assumed).
    public static func infer(shape: (String) -> [Int]?, location: String = "gigagan checkpoint") throws -> GigaGANConfig {
        func fail(_ m: String, _ name: String) -> ModelError { ModelError(m, location: "\(location): \(name)") }
        func need(_ name: String, rank: Int) throws -> [Int] {
            guard let s = shape(name) else { throw fail("missing", name) }
            guard s.count == rank, s.allSatisfy({ $0 > 0 }) else { throw fail("expected \(rank) non-empty dimensions, found \(s)", name) }
            return s
        }

        let initBlock = try need("init_block", rank: 3)
        guard initBlock[1] == 4, initBlock[2] == 4 else { throw fail("expected [C, 4, 4], found \(initBlock)", "init_block") }
        let dimLatent = initBlock[0]
        let initConv = try need("init_conv.weights", rank: 5)
        let kernels = initConv[0]

        // Style network: EqualLinear layers at even indices of `net` (odd ones are activations).
        var styleDepth = 0
        while shape("style_network.net.\(2 * styleDepth).weight") != nil { styleDepth += 1 }
        guard styleDepth > 0 else { throw fail("missing (a generator without its style network cannot be sampled from z)", "style_network.net.0.weight") }
        let first = try need("style_network.net.0.weight", rank: 2)
        let styleDim = first[0]

        // Layers.
        var layers: [Layer] = []
        while let conv1 = shape("layers.\(layers.count).1.0.weights") {
            let i = layers.count
            guard conv1.count == 5 else { throw fail("expected [K, out, in, k, k], found \(conv1)", "layers.\(i).1.0.weights") }
            var layer = Layer(dimIn: conv1[2], dimOut: conv1[1], exciteHidden: nil, selfAttention: nil, crossAttention: nil)
            if let se = shape("layers.\(i).0.1.weight") {
                guard se.count == 2 else { throw fail("expected [hidden, in], found \(se)", "layers.\(i).0.1.weight") }
                layer.exciteHidden = se[0]
            }
            if let nullKV = shape("layers.\(i).3.attn.null_kv") {
                guard nullKV.count == 3, nullKV[0] == 2 else { throw fail("expected [2, heads, dim_head], found \(nullKV)", "layers.\(i).3.attn.null_kv") }
                let ff = try need("layers.\(i).3.ff.1.weight", rank: 4)
                layer.selfAttention = Attention(heads: nullKV[1], dimHead: nullKV[2], ffHidden: ff[0],
                                                dotProduct: shape("layers.\(i).3.attn.to_k.weight") != nil)
            }
            layers.append(layer)
        }
        guard !layers.isEmpty else { throw fail("missing", "layers.0.1.0.weights") }
        let rgb = try need("layers.0.2.weights", rank: 5)
        let channels = rgb[1]

        // Skip-layer excitation: the first L − k layers carry one, each gating the layer k further on.
        let exciting = layers.prefix { $0.exciteHidden != nil }.count
        guard layers.filter({ $0.exciteHidden != nil }).count == exciting else {
            throw fail("squeeze-excite modules must occupy the first layers", "layers.*.0")
        }
        let skipExcite = exciting > 0 ? layers.count - exciting : 0

        // Text encoder.
        var text: TextEncoder?
        if let token = shape("text_encoder.learned_global_token") {
            guard token.count == 1 else { throw fail("expected [dim], found \(token)", "text_encoder.learned_global_token") }
            let dim = token[0]
            var inputDim = dim
            if let p = shape("text_encoder.project_in.weight") {
                guard p.count == 2, p[0] == dim else { throw fail("expected [\(dim), input], found \(p)", "text_encoder.project_in.weight") }
                inputDim = p[1]
            }
            var depth = 0
            while shape("text_encoder.transformer.layers.\(depth).0.to_qkv.weight") != nil { depth += 1 }
            var heads = 8, dimHead = 64, ffHidden = 4 * dim
            if depth > 0 {
                let nkv = try need("text_encoder.transformer.layers.0.0.null_kv", rank: 3)
                heads = nkv[1]; dimHead = nkv[2]
                ffHidden = try need("text_encoder.transformer.layers.0.1.1.weight", rank: 2)[0]
            }
            text = TextEncoder(inputDim: inputDim, dim: dim, depth: depth, heads: heads, dimHead: dimHead, ffHidden: ffHidden)
        }
        let textDim = text?.dim ?? 0
        guard first[1] == styleDim + textDim else {
            throw fail("the first style layer takes \(first[1]) inputs; expected z \(styleDim) + text \(textDim)", "style_network.net.0.weight")
        }

        // Cross-attention, once the other attentions are known (for the head split).
        let knownSplits = layers.compactMap { $0.selfAttention.map { ($0.heads, $0.dimHead) } }
            + (text.map { [($0.heads, $0.dimHead)] } ?? [])
        for i in layers.indices {
            guard let q = shape("layers.\(i).4.attn.to_q.weight") else { continue }
            guard text != nil else { throw fail("cross-attention without a text encoder", "layers.\(i).4.attn.to_q.weight") }
            guard q.count == 4 else { throw fail("expected [inner, dim, 1, 1], found \(q)", "layers.\(i).4.attn.to_q.weight") }
            let inner = q[0]
            let ff = try need("layers.\(i).4.ff.1.weight", rank: 4)
            let split = knownSplits.first { $0.0 * $0.1 == inner }
                ?? (inner % 64 == 0 ? (inner / 64, 64) : inner % 8 == 0 ? (8, inner / 8) : (1, inner))
            layers[i].crossAttention = Attention(heads: split.0, dimHead: split.1, ffHidden: ff[0], dotProduct: true)
        }

        // Upsamplers sit at slot 5 (features, every layer but the first) and 6 (RGB, every layer but the last).
        let pixelShuffle = layers.indices.contains {
            shape("layers.\($0).5.net.0.weight") != nil || shape("layers.\($0).6.net.0.weight") != nil
        }
        let config = GigaGANConfig(
            imageSize: 4 << (layers.count - 1), channels: channels, dimLatent: dimLatent, numConvKernels: kernels,
            styleDim: styleDim, styleDepth: styleDepth, styleLRMul: 0.1, skipExciteLayers: skipExcite,
            pixelShuffleUpsample: pixelShuffle, text: text, layers: layers)
        try config.validate()
        return config
    }
}
