import TensorStore

/// StyleGAN2 generator configuration (NVlabs `Generator` kwargs, with the per-resolution channel counts spelled
/// out so no channel formula has to be guessed).
public struct StyleGAN2Config: Equatable, Sendable {
    public enum Architecture: String, Sendable { case skip, resnet, orig }

    public var zDim: Int
    public var cDim: Int
    public var wDim: Int
    public var imgResolution: Int
    public var imgChannels: Int
    public var mappingLayers: Int
    /// Width of the hidden mapping layers (NVlabs `layer_features`, default w_dim).
    public var mappingFeatures: Int
    /// Width of the label embedding (NVlabs `embed_features`, default w_dim).
    public var embedFeatures: Int
    /// StyleGAN2-TF conditioning (`LabelConcat`): `c·W` (`mapping.label_concat.weight [c_dim, z_dim]`, no bias) is
    /// concatenated to z and the pair is normalised together, instead of NVlabs' separately normalised `embed`.
    public var labelConcat: Bool = false
    public var mappingLRMultiplier: Float
    /// Channels of each block, keyed by resolution (4, 8, …).
    public var channels: [Int: Int]
    public var architecture: Architecture
    /// Clamp for conv outputs (256 in ADA-trained pickles), nil for none.
    public var convClamp: Float?
    public var resampleFilter: [Float]

    public var resolutions: [Int] { (2...log2Resolution).map { 1 << $0 } }
    var log2Resolution: Int { Int(log2(Double(imgResolution)).rounded()) }

    /// Number of W vectors the synthesis consumes: two per block (conv0/conv1, the first block has one conv
    /// and its ToRGB), as NVlabs counts them.
    public var numWs: Int {
        var n = 0
        for r in resolutions { n += r == 4 ? 1 : 2 }
        return n + 1
    }

    public init(zDim: Int, cDim: Int, wDim: Int, imgResolution: Int, imgChannels: Int, mappingLayers: Int,
                mappingFeatures: Int, embedFeatures: Int, mappingLRMultiplier: Float, channels: [Int: Int],
                architecture: Architecture, convClamp: Float?, resampleFilter: [Float] = [1, 3, 3, 1]) {
        self.zDim = zDim
        self.cDim = cDim
        self.wDim = wDim
        self.imgResolution = imgResolution
        self.imgChannels = imgChannels
        self.mappingLayers = mappingLayers
        self.mappingFeatures = mappingFeatures
        self.embedFeatures = embedFeatures
        self.mappingLRMultiplier = mappingLRMultiplier
        self.channels = channels
        self.architecture = architecture
        self.convClamp = convClamp
        self.resampleFilter = resampleFilter
    }

    public init(json j: JSONValue) throws {
        let at = "stylegan2 config"
        zDim = try j.int("z_dim", in: at)
        cDim = j.int("c_dim", default: 0)
        wDim = try j.int("w_dim", in: at)
        imgResolution = try j.int("img_resolution", in: at)
        imgChannels = j.int("img_channels", default: 3)
        mappingLayers = j.int("mapping_layers", default: 8)
        mappingFeatures = j.int("mapping_features", default: wDim)
        embedFeatures = j.int("embed_features", default: wDim)
        labelConcat = j.bool("label_concat", default: false)
        mappingLRMultiplier = Float(j.double("mapping_lr_multiplier", default: 0.01))
        guard let ch = j["channels"]?.objectValue else { throw ModelError("\"channels\" must map resolutions to channel counts", location: at) }
        var channels: [Int: Int] = [:]
        for (k, v) in ch {
            guard let r = Int(k), let c = v.intValue else { throw ModelError("bad channels entry \(k)", location: at) }
            channels[r] = c
        }
        self.channels = channels
        guard let a = Architecture(rawValue: j.string("architecture", default: "skip")) else {
            throw ModelError("\"architecture\" must be skip, resnet or orig", location: at)
        }
        architecture = a
        convClamp = j["conv_clamp"]?.doubleValue.map { Float($0) }
        resampleFilter = (j["resample_filter"]?.arrayValue?.compactMap(\.doubleValue).map { Float($0) }) ?? [1, 3, 3, 1]
        try validate()
    }

    public func validate() throws {
        let at = "stylegan2 config"
        guard imgResolution >= 4, 1 << log2Resolution == imgResolution else {
            throw ModelError("img_resolution \(imgResolution) is not a power of two ≥ 4", location: at)
        }
        for r in resolutions where (channels[r] ?? 0) <= 0 { throw ModelError("no channel count for resolution \(r)", location: at) }
        guard zDim > 0, wDim > 0, mappingLayers >= 1, cDim >= 0 else { throw ModelError("z_dim, w_dim and mapping_layers must be positive", location: at) }
    }

    public var json: JSONValue {
        .object([
            ("z_dim", .int(zDim)), ("c_dim", .int(cDim)), ("w_dim", .int(wDim)),
            ("img_resolution", .int(imgResolution)), ("img_channels", .int(imgChannels)),
            ("mapping_layers", .int(mappingLayers)), ("mapping_features", .int(mappingFeatures)),
            ("embed_features", .int(embedFeatures)), ("label_concat", .bool(labelConcat)), ("mapping_lr_multiplier", .number(Double(mappingLRMultiplier))),
            ("channels", .object(resolutions.map { (String($0), .int(channels[$0] ?? 0)) })),
            ("architecture", .string(architecture.rawValue)),
            ("conv_clamp", convClamp.map { .number(Double($0)) } ?? .null),
            ("resample_filter", .array(resampleFilter.map { .number(Double($0)) })),
        ])
    }

    public var summary: String {
        var s = "\(imgResolution)×\(imgResolution)×\(imgChannels), z \(zDim), w \(wDim)"
        if cDim > 0 { s += ", c \(cDim)" }
        s += ", \(mappingLayers) mapping layers, \(architecture.rawValue)"
        s += ", channels " + resolutions.map { "\($0):\(channels[$0] ?? 0)" }.joined(separator: " ")
        if let c = convClamp { s += ", conv_clamp \(c)" }
        return s
    }
}

#if canImport(Glibc)
import Glibc
#endif
