import TensorStore

/// Reads Keras model configs (`model_config` of a legacy `.h5`, `config.json` of a `.keras`) in the Keras 2 and
/// Keras 3 spellings: Sequential (also the Keras 1/2.2 form whose `config` is the layer list) and
/// Functional/Model graphs.
enum KerasConfigParser {
    /// One layer entry of a config before its class is interpreted.
    struct Entry {
        var name: String
        var className: String
        var config: JSONValue
        var inbound: [String]
        var buildInputShape: [Int?]?
    }

    struct Model {
        var className: String
        var name: String?
        var entries: [Entry]
        var inputs: [String]
        var outputs: [String]
        var buildInputShape: [Int?]?
    }

    static let supportedClasses = ["InputLayer", "Dense", "Reshape", "Flatten", "BatchNormalization", "Conv2D",
                                   "Conv2DTranspose", "UpSampling2D", "LeakyReLU", "ReLU", "Activation", "Dropout"]

    static func model(_ json: JSONValue, file: String) throws -> Model {
        func bad(_ m: String) -> StoreError { StoreError(.corrupt, "Keras model config: \(m)", file: file) }
        guard let className = json["class_name"]?.stringValue else { throw bad("no class_name at the top level") }
        let config = json["config"]
        switch className {
        case "Sequential":
            let layerList: [JSONValue]
            if let list = config?.arrayValue {
                layerList = list  // Keras 1 / early Keras 2: the config is the layer list itself
            } else if let list = config?["layers"]?.arrayValue {
                layerList = list
            } else {
                throw bad("Sequential config has no layer list")
            }
            let entries = try layerList.enumerated().map { try entry($1, index: $0, file: file) }
            return Model(className: className, name: config?["name"]?.stringValue, entries: entries, inputs: [], outputs: [],
                         buildInputShape: shape(config?["build_input_shape"]) ?? shape(json["build_config"]?["input_shape"]))
        case "Functional", "Model":
            guard let list = config?["layers"]?.arrayValue else { throw bad("\(className) config has no layer list") }
            let entries = try list.enumerated().map { try entry($1, index: $0, file: file) }
            return Model(className: className, name: config?["name"]?.stringValue, entries: entries,
                         inputs: layerReferences(config?["input_layers"]), outputs: layerReferences(config?["output_layers"]),
                         buildInputShape: shape(json["build_config"]?["input_shape"]))
        default:
            throw StoreError(.unsupported, "Keras model class '\(className)' is not a Sequential or Functional model; only those configs can be described", file: file)
        }
    }

    private static func entry(_ json: JSONValue, index: Int, file: String) throws -> Entry {
        guard let className = json["class_name"]?.stringValue else {
            throw StoreError(.corrupt, "Keras model config: layer \(index) has no class_name", file: file)
        }
        let config = json["config"] ?? .object([])
        guard let name = json["name"]?.stringValue ?? config["name"]?.stringValue else {
            throw StoreError(.corrupt, "Keras model config: layer \(index) (\(className)) has no name", file: file)
        }
        return Entry(name: name, className: className, config: config,
                     inbound: layerReferences(json["inbound_nodes"]),
                     buildInputShape: shape(json["build_config"]?["input_shape"]))
    }

    /// Layer names referenced by `inbound_nodes` / `input_layers`: Keras 2 `[name, node, tensor, {…}]` lists and
    /// Keras 3 `__keras_tensor__` objects with a `keras_history`.
    static func layerReferences(_ json: JSONValue?) -> [String] {
        var out: [String] = []
        func walk(_ v: JSONValue) {
            switch v {
            case let .array(items):
                if items.count >= 3, let name = items[0].stringValue, items[1].doubleValue != nil {
                    if !out.contains(name) { out.append(name) }
                    return
                }
                items.forEach(walk)
            case let .object(items):
                if let history = v["config"]?["keras_history"]?.arrayValue, let name = history.first?.stringValue {
                    if !out.contains(name) { out.append(name) }
                    return
                }
                items.forEach { walk($0.1) }
            default: break
            }
        }
        if let json { walk(json) }
        return out
    }

    /// A shape list with `null` for unknown dimensions.
    static func shape(_ v: JSONValue?) -> [Int?]? {
        guard let items = v?.arrayValue else { return nil }
        var out: [Int?] = []
        for i in items {
            if case .null = i { out.append(nil) } else if let n = i.intValue { out.append(n) } else { return nil }
        }
        return out
    }

    // MARK: Layer kinds

    /// Interprets one entry; an unsupported class or value is an error naming the layer.
    static func kind(of e: Entry, file: String) throws -> KerasLayerKind {
        let c = e.config
        func fail(_ m: String) -> StoreError {
            StoreError(.unsupported, "Keras layer '\(e.name)' (\(e.className)): \(m)", file: file)
        }
        func number(_ key: String, _ def: Double) throws -> Double {
            guard let v = c[key], v != .null else { return def }
            guard let d = v.doubleValue else { throw fail("'\(key)' is not a number") }
            return d
        }
        func bool(_ key: String, _ def: Bool) throws -> Bool {
            guard let v = c[key], v != .null else { return def }
            guard let b = v.boolValue else { throw fail("'\(key)' is not a boolean") }
            return b
        }
        func int(_ key: String) throws -> Int {
            guard let n = c[key]?.intValue else { throw fail("'\(key)' is missing or not an integer") }
            return n
        }
        func pair(_ key: String, _ def: Int?) throws -> [Int] {
            guard let v = c[key], v != .null else {
                guard let def else { throw fail("'\(key)' is missing") }
                return [def, def]
            }
            if let n = v.intValue { return [n, n] }
            guard let items = v.arrayValue, items.count == 2, let a = items[0].intValue, let b = items[1].intValue else {
                throw fail("'\(key)' is not an integer or a pair of integers")
            }
            return [a, b]
        }
        func dataFormat() throws -> KerasDataFormat {
            guard let v = c["data_format"], v != .null else { return .channelsLast }
            guard let s = v.stringValue, let f = KerasDataFormat(rawValue: s) else { throw fail("unknown data_format \(v.serialized())") }
            return f
        }
        func activation(_ key: String = "activation") throws -> KerasActivation {
            let v = c[key]
            var name: String?
            switch v {
            case nil, .null?: name = nil
            case let .string(s)?: name = s
            case let .object(o)?:
                // Keras 3 serialises functions as {"class_name": "function", "config": "relu", …}.
                name = o.first { $0.0 == "config" }?.1.stringValue
                if name == nil { throw fail("activation \(v!.serialized()) is not supported") }
            default: throw fail("activation \(v!.serialized()) is not supported")
            }
            guard let a = KerasActivation(configValue: name) else { throw fail("activation '\(name ?? "")' is not supported") }
            return a
        }
        func conv(transposed: Bool) throws -> KerasConvConfig {
            guard let p = c["padding"]?.stringValue.map({ $0.lowercased() }), let padding = KerasPadding(rawValue: p) else {
                throw fail("padding \(c["padding"]?.serialized() ?? "missing") is not 'same' or 'valid'")
            }
            var outputPadding: [Int]? = nil
            if transposed, let v = c["output_padding"], v != .null { outputPadding = try pair("output_padding", nil) }
            let groups = c["groups"]?.intValue ?? 1
            let filters = try int("filters")
            let kernel = try pair("kernel_size", nil)
            let strides = try pair("strides", 1)
            let dilation = try pair("dilation_rate", 1)
            guard filters > 0, groups > 0, kernel.allSatisfy({ $0 > 0 }), strides.allSatisfy({ $0 > 0 }), dilation.allSatisfy({ $0 > 0 }) else {
                throw fail("filters, kernel_size, strides, dilation_rate and groups must be positive")
            }
            return KerasConvConfig(filters: filters, kernelSize: kernel, strides: strides, padding: padding,
                                   dataFormat: try dataFormat(), dilationRate: dilation, groups: groups,
                                   activation: try activation(), useBias: try bool("use_bias", true), outputPadding: outputPadding)
        }

        switch e.className {
        case "InputLayer":
            let s = shape(c["batch_shape"]) ?? shape(c["batch_input_shape"]) ?? shape(c["shape"]).map { [nil] + $0 }
            guard let s else { throw fail("no batch_shape / batch_input_shape") }
            return .input(batchShape: s)
        case "Dense":
            let units = try int("units")
            guard units > 0 else { throw fail("units must be positive") }
            return .dense(KerasDenseConfig(units: units, activation: try activation(), useBias: try bool("use_bias", true)))
        case "Reshape":
            guard let items = c["target_shape"]?.arrayValue else { throw fail("no target_shape") }
            let t = items.compactMap(\.intValue)
            guard t.count == items.count, t.allSatisfy({ $0 > 0 || $0 == -1 }), t.filter({ $0 == -1 }).count <= 1 else {
                throw fail("target_shape \(c["target_shape"]!.serialized()) is not a shape")
            }
            return .reshape(targetShape: t)
        case "Flatten":
            return .flatten(dataFormat: try dataFormat())
        case "BatchNormalization":
            var axis: [Int] = [-1]
            if let v = c["axis"], v != .null {
                if let n = v.intValue { axis = [n] } else if let items = v.arrayValue, !items.isEmpty,
                    items.allSatisfy({ $0.intValue != nil }) { axis = items.compactMap(\.intValue) } else {
                    throw fail("axis \(v.serialized()) is not an integer or list of integers")
                }
            }
            if try bool("renorm", false) { throw fail("batch renormalisation is not supported") }
            return .batchNormalization(KerasBatchNormConfig(axis: axis, epsilon: try number("epsilon", 1e-3),
                                                            center: try bool("center", true), scale: try bool("scale", true)))
        case "Conv2D":
            return .conv2D(try conv(transposed: false))
        case "Conv2DTranspose":
            return .conv2DTranspose(try conv(transposed: true))
        case "UpSampling2D":
            let interp = c["interpolation"]?.stringValue ?? "nearest"
            guard let mode = KerasUpSamplingConfig.Interpolation(rawValue: interp) else { throw fail("interpolation '\(interp)' is not supported") }
            let size = try pair("size", 2)
            guard size.allSatisfy({ $0 > 0 }) else { throw fail("size must be positive") }
            return .upSampling2D(KerasUpSamplingConfig(size: size, interpolation: mode, dataFormat: try dataFormat()))
        case "LeakyReLU":
            // Keras 3 writes negative_slope, Keras 2 alpha; the layer default is 0.3 in both.
            if let v = c["negative_slope"], v != .null { return .leakyReLU(slope: try number("negative_slope", 0.3)) }
            return .leakyReLU(slope: try number("alpha", 0.3))
        case "ReLU":
            let maxValue: Double? = (c["max_value"].map { $0 == .null } ?? true) ? nil : try number("max_value", 0)
            return .reLU(KerasReLUConfig(maxValue: maxValue, negativeSlope: try number("negative_slope", 0),
                                         threshold: try number("threshold", 0)))
        case "Activation":
            return .activation(try activation())
        case "Dropout":
            return .dropout(rate: try number("rate", 0))
        case "Sequential", "Functional", "Model":
            throw StoreError(.unsupported, "Keras layer '\(e.name)' is a nested \(e.className) model, which is not supported", file: file)
        default:
            throw StoreError(.unsupported, "Keras layer '\(e.name)' has class '\(e.className)', which is not supported (supported: \(supportedClasses.joined(separator: ", ")))", file: file)
        }
    }
}
