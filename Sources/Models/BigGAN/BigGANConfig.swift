import TensorStore

/// The resolved architecture of an ajbrock BigGAN-PyTorch generator (`BigGAN.Generator`).
///
/// From a checkpoint, the structure comes from the tensor shapes — block channels, attention placement, bottom
/// width, the z chunk width (`linear.weight`'s input size; upstream recomputes `dim_z` from it), shared
/// embedding, hierarchy — and the constructor kwargs (`config.json` beside the file) supply what shapes cannot
/// show: `BN_eps`, `SN_eps`, `norm_style`. In a canonical file the resolved form below is the config.
public struct BigGANConfig: Sendable, Equatable {
    public struct Block: Sendable, Equatable {
        public var inChannels: Int
        public var outChannels: Int
        /// A self-attention module follows the block (`blocks.i.1`).
        public var attention: Bool
    }

    /// Every block upsamples ×2 (nearest) in every `G_arch` resolution.
    public var blocks: [Block]
    public var bottomWidth: Int
    /// Width of each z chunk; the first feeds `linear`. Without hierarchy it is the whole z.
    public var zChunk: Int
    public var hierarchical: Bool
    /// `G_shared`: y = shared embedding of the class, and the BN gains/biases are linears of [y, z chunk];
    /// otherwise they are per-class embeddings (`nn.Embedding(n_classes, C)`).
    public var sharedEmbedding: Bool
    public var sharedDim: Int
    public var numClasses: Int
    /// Conditional BN epsilon (`BN_eps`); the output BN always uses 1e-5 (`layers.bn` is built without it).
    public var bnEps: Double
    /// Spectral-norm epsilon (`SN_eps`) of the power-iteration normalisations.
    public var snEps: Double
    /// `G_param == 'SN'`: weights carry `u0` and are spectrally normalised.
    public var spectralNorm: Bool
    /// `bn` (or `in`, the same in eval mode) or `nonorm`.
    public var normStyle: String
    /// `mybn`: statistics live under `…bn.stored_mean` / `…bn.stored_var`.
    public var myBN: Bool
    public var kernelSize: Int

    public static let outputBNEps = 1e-5

    public var zDim: Int { hierarchical ? zChunk * (blocks.count + 1) : zChunk }
    /// Width of the vector the conditional BNs take.
    public var conditionDim: Int { sharedEmbedding ? sharedDim + (hierarchical ? zChunk : 0) : numClasses }
    public var resolution: Int { bottomWidth << blocks.count }
    public var normalizes: Bool { normStyle != "nonorm" }

    /// Reads the resolved form (`gankit.config` of a canonical file).
    public init(json: JSONValue) throws {
        let at = "config"
        guard let ins = json.ints("in_channels"), let outs = json.ints("out_channels"), ins.count == outs.count,
              let attn = json["attention"]?.arrayValue?.compactMap(\.boolValue), attn.count == ins.count else {
            throw ModelError("needs 'in_channels', 'out_channels' and 'attention' lists of one length", location: at)
        }
        blocks = (0..<ins.count).map { Block(inChannels: ins[$0], outChannels: outs[$0], attention: attn[$0]) }
        bottomWidth = try json.int("bottom_width", in: at)
        zChunk = try json.int("z_chunk", in: at)
        hierarchical = json.bool("hier", default: false)
        sharedEmbedding = json.bool("G_shared", default: true)
        sharedDim = json.int("shared_dim", default: 0)
        numClasses = try json.int("n_classes", in: at)
        bnEps = json.double("BN_eps", default: 1e-5)
        snEps = json.double("SN_eps", default: 1e-12)
        spectralNorm = json.string("G_param", default: "SN") == "SN"
        normStyle = json.string("norm_style", default: "bn")
        myBN = json.bool("mybn", default: false)
        kernelSize = json.int("G_kernel_size", default: 3)
        try validate(at: at)
    }

    /// Resolves the architecture from a state dict's shapes and the constructor kwargs (`config.json`, may be nil).
    public init(shapes store: TensorStore, kwargs: JSONValue?) throws {
        func shape(_ name: String) throws -> [Int] {
            guard let t = store[name] else { throw ModelError("expected the tensor '\(name)'", location: "state dict") }
            return t.shape
        }
        var blocks: [Block] = []
        while let conv = store["blocks.\(blocks.count).0.conv1.weight"] {
            let i = blocks.count
            guard conv.rank == 4 else { throw ModelError("blocks.\(i).0.conv1.weight must be 4-D, found \(conv.shape)") }
            let attention = store["blocks.\(i).1.gamma"] != nil || store["blocks.\(i).1.theta.weight"] != nil
            blocks.append(Block(inChannels: conv.shape[1], outChannels: conv.shape[0], attention: attention))
        }
        guard !blocks.isEmpty else { throw ModelError("no generator blocks (blocks.0.0.conv1.weight)", location: "state dict") }
        self.blocks = blocks
        kernelSize = try shape("blocks.0.0.conv1.weight")[2]
        let linear = try shape("linear.weight")
        guard linear.count == 2, blocks[0].inChannels > 0, linear[0] % blocks[0].inChannels == 0 else {
            throw ModelError("linear.weight \(linear) does not make a square map of \(blocks[0].inChannels) channels")
        }
        let area = linear[0] / blocks[0].inChannels
        let width = Int(Double(area).squareRoot().rounded())
        guard width * width == area else { throw ModelError("linear.weight \(linear) does not make a square map of \(blocks[0].inChannels) channels") }
        bottomWidth = width
        zChunk = linear[1]
        spectralNorm = store["linear.u0"] != nil
        myBN = store["output_layer.0.bn.stored_mean"] != nil
        let gain = try shape("blocks.0.0.bn1.gain.weight")
        guard gain.count == 2 else { throw ModelError("blocks.0.0.bn1.gain.weight must be 2-D, found \(gain)") }
        if let shared = store["shared.weight"] {
            guard shared.rank == 2 else { throw ModelError("shared.weight must be 2-D, found \(shared.shape)") }
            sharedEmbedding = true
            numClasses = shared.shape[0]
            sharedDim = shared.shape[1]
            if gain[1] == sharedDim + zChunk {
                hierarchical = true
            } else if gain[1] == sharedDim {
                hierarchical = false
            } else {
                throw ModelError("the BN gain takes \(gain[1]) inputs: neither the shared embedding (\(sharedDim)) nor it plus a z chunk (\(sharedDim + zChunk))",
                                 location: "blocks.0.0.bn1.gain.weight")
            }
        } else {
            // G_shared=False: gains and biases are per-class embeddings [n_classes, C]; no hierarchy possible upstream.
            sharedEmbedding = false
            hierarchical = false
            sharedDim = 0
            numClasses = gain[0]
        }
        let statsKey = myBN ? "blocks.0.0.bn1.bn.stored_mean" : "blocks.0.0.bn1.stored_mean"
        let kw = kwargs ?? .object([])
        normStyle = kw.string("norm_style", default: store[statsKey] != nil ? "bn" : "nonorm")
        // Without kwargs: TF-Hub ports (TFHub/converter.py, no sv0 buffers) were made with BN_eps = SN_eps = 1e-4;
        // trained checkpoints use the launch scripts' 1e-5 / 1e-6.
        let tfHubPort = kwargs == nil && spectralNorm && store["linear.sv0"] == nil
        bnEps = kw.double("BN_eps", default: tfHubPort ? 1e-4 : 1e-5)
        snEps = kw.double("SN_eps", default: tfHubPort ? 1e-4 : 1e-6)
        if kw.bool("cross_replica", default: false) {
            throw ModelError("cross_replica (SyncBatchNorm) generators are not supported", location: "config.json")
        }
        try validate(at: "config.json")
    }

    func validate(at: String) throws {
        guard !blocks.isEmpty, bottomWidth > 0, zChunk > 0, numClasses > 0, kernelSize == 3 else {
            throw ModelError("blocks, bottom width, z chunk, classes must be positive and kernels 3×3", location: at)
        }
        if sharedEmbedding && sharedDim <= 0 { throw ModelError("shared_dim must be positive with G_shared", location: at) }
        if hierarchical && !sharedEmbedding { throw ModelError("hier needs G_shared (upstream concatenates y and z chunks)", location: at) }
        guard ["bn", "in", "nonorm"].contains(normStyle) else {
            throw ModelError("norm_style '\(normStyle)' is not supported (bn, in, nonorm)", location: at)
        }
        guard bnEps > 0, snEps >= 0 else { throw ModelError("BN_eps must be positive and SN_eps non-negative", location: at) }
        for (i, b) in blocks.enumerated() {
            guard b.inChannels > 0, b.outChannels > 0 else { throw ModelError("block \(i) has no channels", location: at) }
            if i > 0, b.inChannels != blocks[i - 1].outChannels {
                throw ModelError("block \(i) takes \(b.inChannels) channels but block \(i - 1) gives \(blocks[i - 1].outChannels)", location: at)
            }
            if b.attention, b.outChannels < 8 { throw ModelError("block \(i)'s attention needs at least 8 channels", location: at) }
        }
    }

    /// The resolved form, with the upstream kwarg names where one exists.
    public var json: JSONValue {
        .object([
            ("resolution", .int(resolution)), ("bottom_width", .int(bottomWidth)),
            ("in_channels", .ints(blocks.map(\.inChannels))), ("out_channels", .ints(blocks.map(\.outChannels))),
            ("attention", .array(blocks.map { .bool($0.attention) })),
            ("dim_z", .int(zDim)), ("z_chunk", .int(zChunk)), ("hier", .bool(hierarchical)),
            ("G_shared", .bool(sharedEmbedding)), ("shared_dim", .int(sharedDim)), ("n_classes", .int(numClasses)),
            ("BN_eps", .number(bnEps)), ("SN_eps", .number(snEps)), ("G_param", .string(spectralNorm ? "SN" : "none")),
            ("norm_style", .string(normStyle)), ("mybn", .bool(myBN)), ("G_kernel_size", .int(kernelSize)),
        ])
    }
}
