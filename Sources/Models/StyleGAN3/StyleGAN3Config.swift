#if canImport(Glibc)
import Glibc
#endif
import TensorStore

/// StyleGAN3 hyper-parameters: the NVlabs `Generator` init kwargs (with the `networks_stylegan3.py` defaults for
/// whatever a pickle leaves out). Everything else — sampling rates, sizes, channels, up/down factors, paddings —
/// is derived from these exactly as `SynthesisNetwork.__init__` derives it, and checked against the stored
/// tensors when binding (layer names carry size and channels, filter lengths carry the tap counts).
public struct StyleGAN3Config: Equatable, Sendable {
    public var zDim: Int
    public var cDim: Int
    public var wDim: Int
    public var imgResolution: Int
    public var imgChannels: Int
    public var channelBase: Double = 32768
    public var channelMax: Double = 512
    /// Layers excluding the Fourier input and ToRGB.
    public var numLayers: Int = 14
    public var numCritical: Int = 2
    public var firstCutoff: Double = 2
    public var firstStopband: Double = 4.287093850145173   // 2**2.1
    public var lastStopbandRel: Double = 1.2311444133449163 // 2**0.3
    public var marginSize: Double = 10
    public var outputScale: Double = 0.25
    /// 3 for StyleGAN3-T, 1 for StyleGAN3-R.
    public var convKernel: Int = 3
    public var filterSize: Int = 6
    public var lreluUpsampling: Double = 2
    public var useRadialFilters: Bool = false
    /// nil disables clamping.
    public var convClamp: Double? = 256
    public var mappingLayers: Int = 2
    public var mappingLrMultiplier: Double = 0.01

    public init(zDim: Int, cDim: Int, wDim: Int, imgResolution: Int, imgChannels: Int) {
        self.zDim = zDim
        self.cDim = cDim
        self.wDim = wDim
        self.imgResolution = imgResolution
        self.imgChannels = imgChannels
    }

    public var numWs: Int { numLayers + 2 }

    // MARK: - JSON (NVlabs kwarg names, so a pickle's `_init_kwargs` reads directly)

    /// Reads NVlabs `Generator` init kwargs (`mapping_kwargs` nested; a nested `synthesis_kwargs` is accepted
    /// too) or a canonical config written by `json`. A key that is present with the wrong type is an error;
    /// an absent one takes the NVlabs default.
    public init(kwargs j: JSONValue, location: String = "init_kwargs") throws {
        guard let top = j.objectValue else { throw ModelError("the StyleGAN3 config must be an object", location: location) }
        var flat: [String: JSONValue] = [:]
        for (k, v) in j["synthesis_kwargs"]?.objectValue ?? [] { flat[k] = v }
        for (k, v) in top { flat[k] = v }
        func value(_ k: String) -> JSONValue? {
            guard let v = flat[k], v != .null else { return nil }
            return v
        }
        func int(_ k: String, _ d: Int? = nil) throws -> Int {
            guard let v = value(k) else {
                if let d { return d }
                throw ModelError("'\(k)' is required", location: location)
            }
            guard let i = v.intValue else { throw ModelError("'\(k)' must be an integer, got \(v.serialized())", location: location) }
            return i
        }
        func number(_ k: String, _ d: Double) throws -> Double {
            guard let v = value(k) else { return d }
            guard let x = v.doubleValue, x.isFinite else { throw ModelError("'\(k)' must be a number, got \(v.serialized())", location: location) }
            return x
        }
        self.init(zDim: try int("z_dim"), cDim: try int("c_dim", 0), wDim: try int("w_dim"),
                  imgResolution: try int("img_resolution"), imgChannels: try int("img_channels", 3))
        channelBase = try number("channel_base", channelBase)
        channelMax = try number("channel_max", channelMax)
        numLayers = try int("num_layers", numLayers)
        numCritical = try int("num_critical", numCritical)
        firstCutoff = try number("first_cutoff", firstCutoff)
        firstStopband = try number("first_stopband", firstStopband)
        lastStopbandRel = try number("last_stopband_rel", lastStopbandRel)
        marginSize = try number("margin_size", marginSize)
        outputScale = try number("output_scale", outputScale)
        convKernel = try int("conv_kernel", convKernel)
        filterSize = try int("filter_size", filterSize)
        lreluUpsampling = try number("lrelu_upsampling", lreluUpsampling)
        if let v = value("use_radial_filters") {
            guard let b = v.boolValue else { throw ModelError("'use_radial_filters' must be true or false", location: location) }
            useRadialFilters = b
        }
        // conv_clamp: absent → 256, null → no clamp.
        if let v = flat["conv_clamp"] {
            if v == .null { convClamp = nil } else {
                guard let d = v.doubleValue, d.isFinite, d >= 0 else {
                    throw ModelError("'conv_clamp' must be a non-negative number or null", location: location)
                }
                convClamp = d
            }
        }
        if let m = value("mapping_kwargs") ?? value("mapping") {
            guard m.objectValue != nil else { throw ModelError("'mapping_kwargs' must be an object", location: location) }
            if let v = m["num_layers"], v != .null {
                guard let i = v.intValue else { throw ModelError("'mapping_kwargs.num_layers' must be an integer", location: location) }
                mappingLayers = i
            }
            if let v = m["lr_multiplier"], v != .null {
                guard let d = v.doubleValue, d.isFinite, d > 0 else {
                    throw ModelError("'mapping_kwargs.lr_multiplier' must be a positive number", location: location)
                }
                mappingLrMultiplier = d
            }
        }
        try validate(location: location)
    }

    /// The canonical config (NVlabs kwarg names; every value explicit).
    public var json: JSONValue {
        .object([
            ("z_dim", .int(zDim)), ("c_dim", .int(cDim)), ("w_dim", .int(wDim)),
            ("img_resolution", .int(imgResolution)), ("img_channels", .int(imgChannels)),
            ("channel_base", .number(channelBase)), ("channel_max", .number(channelMax)),
            ("num_layers", .int(numLayers)), ("num_critical", .int(numCritical)),
            ("first_cutoff", .number(firstCutoff)), ("first_stopband", .number(firstStopband)),
            ("last_stopband_rel", .number(lastStopbandRel)), ("margin_size", .number(marginSize)),
            ("output_scale", .number(outputScale)), ("conv_kernel", .int(convKernel)),
            ("filter_size", .int(filterSize)), ("lrelu_upsampling", .number(lreluUpsampling)),
            ("use_radial_filters", .bool(useRadialFilters)),
            ("conv_clamp", convClamp.map { .number($0) } ?? .null),
            ("mapping_kwargs", .object([("num_layers", .int(mappingLayers)),
                                        ("lr_multiplier", .number(mappingLrMultiplier))])),
        ])
    }

    func validate(location: String) throws {
        func check(_ ok: Bool, _ m: String) throws { if !ok { throw ModelError(m, location: location) } }
        try check(zDim > 0 && wDim > 0 && cDim >= 0, "z_dim \(zDim), w_dim \(wDim), c_dim \(cDim) must be positive")
        try check(imgResolution >= 2 && imgResolution <= 1 << 16, "img_resolution \(imgResolution) is out of range")
        try check(imgChannels >= 1 && imgChannels <= 64, "img_channels \(imgChannels) is out of range")
        try check(numLayers > numCritical && numCritical >= 0 && numLayers <= 256,
                  "num_layers \(numLayers) must exceed num_critical \(numCritical)")
        try check(convKernel >= 1 && convKernel <= 15, "conv_kernel \(convKernel) is out of range")
        try check(filterSize >= 1 && filterSize <= 64, "filter_size \(filterSize) is out of range")
        try check(mappingLayers >= 1 && mappingLayers <= 64, "mapping num_layers \(mappingLayers) is out of range")
        try check(channelBase > 0 && channelMax >= 1 && firstCutoff > 0 && firstStopband > 0 && lastStopbandRel > 0
                  && marginSize >= 0 && lreluUpsampling >= 1,
                  "channel_base, channel_max, cutoffs, stopbands, margin_size and lrelu_upsampling must be positive")
    }

    // MARK: - Derived geometry

    /// The Fourier-feature input.
    public struct InputGeometry: Equatable, Sendable {
        public var channels: Int
        /// Width = height.
        public var size: Int
        public var samplingRate: Double
        public var bandwidth: Double
    }

    /// One synthesis layer (`L{index}_{outSize}_{outChannels}`).
    public struct LayerGeometry: Equatable, Sendable {
        public var index: Int
        public var name: String
        public var isToRGB: Bool
        public var isCriticallySampled: Bool
        public var inChannels: Int, outChannels: Int
        public var inSize: Int, outSize: Int
        public var convKernel: Int
        public var up: Int, down: Int
        /// 1 means no filter (the identity).
        public var upTaps: Int, downTaps: Int
        /// The down filter is 2-D (jinc, StyleGAN3-R) rather than separable.
        public var downRadial: Bool
        /// `[x0, x1, y0, y1]` for the upsampling pass; negative values crop.
        public var padding: [Int]
    }

    /// Sampling rates, sizes, channels and filters per layer, as `SynthesisNetwork.__init__` computes them.
    public func geometry() throws -> (input: InputGeometry, layers: [LayerGeometry]) {
        let n = numLayers
        let lastCutoff = Double(imgResolution) / 2
        let lastStopband = lastCutoff * lastStopbandRel
        var cutoffs = [Double](), stopbands = [Double](), rates = [Double](), halfWidths = [Double]()
        var sizes = [Int](), channels = [Int]()
        for i in 0...n {
            let e = min(Double(i) / Double(n - numCritical), 1)
            let cutoff = firstCutoff * pow(lastCutoff / firstCutoff, e)
            let stopband = firstStopband * pow(lastStopband / firstStopband, e)
            let rate = exp2(ceil(log2(min(stopband * 2, Double(imgResolution)))))
            cutoffs.append(cutoff)
            stopbands.append(stopband)
            rates.append(rate)
            halfWidths.append(max(stopband, rate / 2) - cutoff)
            sizes.append(i >= n - 1 ? imgResolution : Int(rate + marginSize * 2))
            channels.append(i == n ? imgChannels : Int(min((channelBase / 2) / cutoff, channelMax).rounded(.toNearestOrEven)))
        }
        guard channels.allSatisfy({ $0 >= 1 && $0 <= 1 << 16 }), sizes.allSatisfy({ $0 >= 1 && $0 <= 1 << 17 }) else {
            throw ModelError("the config gives layer channels \(channels) and sizes \(sizes)", location: "geometry")
        }
        let input = InputGeometry(channels: channels[0], size: sizes[0], samplingRate: rates[0], bandwidth: cutoffs[0])
        var layers: [LayerGeometry] = []
        for idx in 0...n {
            let prev = max(idx - 1, 0)
            let toRGB = idx == n
            let critical = idx >= n - numCritical
            let inRate = Double(Int(rates[prev])), outRate = Double(Int(rates[idx]))
            let tmpRate = max(inRate, outRate) * (toRGB ? 1 : lreluUpsampling)
            let up = Int((tmpRate / inRate).rounded(.toNearestOrEven))
            let down = Int((tmpRate / outRate).rounded(.toNearestOrEven))
            guard up >= 1, down >= 1, inRate * Double(up) == tmpRate, outRate * Double(down) == tmpRate else {
                throw ModelError("layer \(idx): sampling rates \(inRate) → \(tmpRate) → \(outRate) are not integer multiples",
                                 location: "geometry")
            }
            let k = toRGB ? 1 : convKernel
            let upTaps = up > 1 && !toRGB ? filterSize * up : 1
            let downTaps = down > 1 && !toRGB ? filterSize * down : 1
            let inSize = idx == 0 ? sizes[0] : sizes[prev], outSize = sizes[idx]
            var total = (outSize - 1) * down + 1
            total -= (inSize + k - 1) * up
            total += upTaps + downTaps - 2
            // Python floor division: shifts sample locations per the symmetric interpretation.
            let lo = Int((Double(total + up) / 2).rounded(.down))
            let hi = total - lo
            layers.append(LayerGeometry(
                index: idx, name: "L\(idx)_\(outSize)_\(channels[idx])", isToRGB: toRGB, isCriticallySampled: critical,
                inChannels: channels[prev], outChannels: channels[idx], inSize: inSize, outSize: outSize,
                convKernel: k, up: up, down: down, upTaps: upTaps, downTaps: downTaps,
                downRadial: useRadialFilters && !critical, padding: [lo, hi, lo, hi]))
        }
        return (input, layers)
    }
}
