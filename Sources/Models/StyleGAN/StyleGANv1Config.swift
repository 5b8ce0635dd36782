import TensorStore

/// The architecture of a StyleGAN v1 generator (NVlabs `G_style` = `G_mapping` + `G_synthesis`), as stored in
/// canonical files (`gankit.config`). Field names follow the TF build kwargs where there is one.
public struct StyleGANv1Config: Sendable, Equatable {
    /// Latent size (`latent_size`).
    public var zDim: Int
    /// Label size (`label_size`); 0 when unconditional. Labels enter through `LabelConcat`.
    public var cDim: Int
    /// Disentangled latent size (`dlatent_size`).
    public var wDim: Int
    /// Output resolution, a power of two ≥ 4.
    public var resolution: Int
    /// Output channels (`num_channels`).
    public var imageChannels: Int
    /// Feature maps per resolution 4, 8, …, `resolution` (`nf(log2(r) − 1)`).
    public var channels: [Int]
    /// Mapping layers and the width of all but the last (`mapping_fmaps`).
    public var mappingLayers: Int
    public var mappingFmaps: Int
    /// `mapping_lrmul`: multiplies the weight coefficient and the bias of every mapping layer.
    public var mappingLrMultiplier: Double
    /// `mapping_nonlinearity` and `nonlinearity`: "lrelu" (slope 0.2) or "relu".
    public var mappingActivation: String
    public var activation: String
    /// `normalize_latents`: pixel norm of [z, label embedding] before the mapping layers.
    public var normalizeLatents: Bool
    /// `use_wscale`: equalised learning rate (weights scaled by gain/√fan_in at run time).
    public var useWScale: Bool
    public var useNoise: Bool
    public var usePixelNorm: Bool
    public var useInstanceNorm: Bool
    /// First output resolution whose up-conv is the fused transposed conv (`fused_scale='auto'`: 128;
    /// `True`: 8; `False`: never, written as resolution·2).
    public var fusedUpMinResolution: Int
    /// Blur taps after every up-conv (`blur_filter`, default [1,2,1]; empty = none).
    public var blurFilter: [Float]

    public var log2Resolution: Int { resolution.trailingZeroBitCount }
    /// W vectors per sample: two per resolution.
    public var numWs: Int { 2 * log2Resolution - 2 }

    /// Channels at resolution `r`.
    public func channels(at r: Int) -> Int { channels[r.trailingZeroBitCount - 2] }

    public init(zDim: Int, cDim: Int, wDim: Int, resolution: Int, imageChannels: Int, channels: [Int],
                mappingLayers: Int, mappingFmaps: Int, mappingLrMultiplier: Double = 0.01,
                mappingActivation: String = "lrelu", activation: String = "lrelu", normalizeLatents: Bool = true,
                useWScale: Bool = true, useNoise: Bool = true, usePixelNorm: Bool = false,
                useInstanceNorm: Bool = true, fusedUpMinResolution: Int = 128, blurFilter: [Float] = [1, 2, 1]) {
        self.zDim = zDim
        self.cDim = cDim
        self.wDim = wDim
        self.resolution = resolution
        self.imageChannels = imageChannels
        self.channels = channels
        self.mappingLayers = mappingLayers
        self.mappingFmaps = mappingFmaps
        self.mappingLrMultiplier = mappingLrMultiplier
        self.mappingActivation = mappingActivation
        self.activation = activation
        self.normalizeLatents = normalizeLatents
        self.useWScale = useWScale
        self.useNoise = useNoise
        self.usePixelNorm = usePixelNorm
        self.useInstanceNorm = useInstanceNorm
        self.fusedUpMinResolution = fusedUpMinResolution
        self.blurFilter = blurFilter
    }

    /// Checks the values a model can be built from.
    public func validate() throws {
        func fail(_ m: String, _ key: String) -> ModelError { ModelError(m, location: "stylegan1 config '\(key)'") }
        guard resolution >= 4, resolution & (resolution - 1) == 0, resolution <= 1 << 16 else {
            throw fail("resolution must be a power of two ≥ 4 (found \(resolution))", "resolution")
        }
        guard channels.count == log2Resolution - 1 else {
            throw fail("needs \(log2Resolution - 1) channel counts for resolutions 4…\(resolution) (found \(channels.count))", "channels")
        }
        for (k, v) in [("z_dim", zDim), ("w_dim", wDim), ("img_channels", imageChannels), ("mapping_layers", mappingLayers),
                       ("mapping_fmaps", mappingFmaps)] where v < 1 || v > 1 << 20 {
            throw fail("must be between 1 and 2^20 (found \(v))", k)
        }
        guard cDim >= 0, cDim <= 1 << 20 else { throw fail("must be between 0 and 2^20 (found \(cDim))", "c_dim") }
        guard channels.allSatisfy({ $0 >= 1 && $0 <= 1 << 16 }) else { throw fail("channel counts must be 1…65536", "channels") }
        for (k, a) in [("mapping_activation", mappingActivation), ("activation", activation)] where a != "lrelu" && a != "relu" {
            throw fail("unsupported nonlinearity '\(a)' (lrelu or relu)", k)
        }
        guard mappingLrMultiplier.isFinite, mappingLrMultiplier > 0 else {
            throw fail("must be a positive number", "mapping_lr_multiplier")
        }
        guard blurFilter.count <= 32, blurFilter.allSatisfy(\.isFinite), blurFilter.isEmpty || blurFilter.reduce(0, +) != 0 else {
            throw fail("must be a short list of finite taps with a non-zero sum", "blur_filter")
        }
    }

    public var json: JSONValue {
        .object([
            ("z_dim", .int(zDim)), ("c_dim", .int(cDim)), ("w_dim", .int(wDim)),
            ("resolution", .int(resolution)), ("img_channels", .int(imageChannels)), ("channels", .ints(channels)),
            ("mapping_layers", .int(mappingLayers)), ("mapping_fmaps", .int(mappingFmaps)),
            ("mapping_lr_multiplier", .number(mappingLrMultiplier)), ("mapping_activation", .string(mappingActivation)),
            ("activation", .string(activation)), ("normalize_latents", .bool(normalizeLatents)),
            ("use_wscale", .bool(useWScale)), ("use_noise", .bool(useNoise)), ("use_pixel_norm", .bool(usePixelNorm)),
            ("use_instance_norm", .bool(useInstanceNorm)), ("fused_up_min_resolution", .int(fusedUpMinResolution)),
            ("blur_filter", .array(blurFilter.map { .number(Double($0)) })),
        ])
    }

    public init(json j: JSONValue) throws {
        let at = "stylegan1 config"
        guard let ch = j.ints("channels") else { throw ModelError("'channels' must be a list of integers", location: at) }
        var blur: [Float] = [1, 2, 1]
        if let a = j["blur_filter"]?.arrayValue {
            blur = try a.map {
                guard let d = $0.doubleValue else { throw ModelError("'blur_filter' must be a list of numbers", location: at) }
                return Float(d)
            }
        }
        self.init(zDim: try j.int("z_dim", in: at), cDim: j.int("c_dim", default: 0), wDim: try j.int("w_dim", in: at),
                  resolution: try j.int("resolution", in: at), imageChannels: j.int("img_channels", default: 3),
                  channels: ch, mappingLayers: try j.int("mapping_layers", in: at),
                  mappingFmaps: try j.int("mapping_fmaps", in: at),
                  mappingLrMultiplier: j.double("mapping_lr_multiplier", default: 0.01),
                  mappingActivation: j.string("mapping_activation", default: "lrelu"),
                  activation: j.string("activation", default: "lrelu"),
                  normalizeLatents: j.bool("normalize_latents", default: true),
                  useWScale: j.bool("use_wscale", default: true), useNoise: j.bool("use_noise", default: true),
                  usePixelNorm: j.bool("use_pixel_norm", default: false),
                  useInstanceNorm: j.bool("use_instance_norm", default: true),
                  fusedUpMinResolution: j.int("fused_up_min_resolution", default: 128), blurFilter: blur)
        try validate()
    }
}
