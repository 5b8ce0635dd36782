import Checkpoints
import TensorStore

/// The generator of a TF-era NVlabs network pickle (`(G, D, Gs)` tuple of `dnnlib.tflib.network.Network`), as
/// the pickle reader presents it: raw tensors `Gs.<component>.<TF variable path with / → .>` and a metadata entry
/// `Gs` holding `version`, `build_func_name`, `static_kwargs` and the components' own entries.
/// Shared by the StyleGAN v1 mapper and the StyleGAN2 / ADA TensorFlow mapper (Formats/stylegan-tf.md).
struct TFNetworkPickle {
    /// The network used for inference: `Gs`, the EMA copy (G holds different, non-EMA weights).
    static let network = "Gs"
    static let prefix = network + "."

    let checkpoint: Checkpoint
    /// Network state version: 3 StyleGAN v1, 4 StyleGAN2 TF, 5 StyleGAN2-ADA TF (nil when the metadata is gone).
    let version: Int?
    let buildFuncName: String?
    /// Build kwargs: the top network's, overlaid by the synthesis and mapping components' (the components were
    /// built with the same kwargs plus `dlatent_broadcast`). Missing entries take the code defaults.
    let kwargs: [String: JSONValue]

    /// Nil unless the checkpoint is a TF network pickle whose `Gs` variables the reader exposed.
    init?(_ checkpoint: Checkpoint) {
        guard checkpoint.format == .pickle,
              checkpoint.tensors.names.contains(where: { $0.hasPrefix(Self.prefix + "synthesis.") }) else { return nil }
        let meta = checkpoint.metadata.first { $0.0 == Self.network }?.1
        if let meta, meta["class"]?.stringValue.map({ $0.hasSuffix("tflib.network.Network") }) == false { return nil }
        self.checkpoint = checkpoint
        version = meta?["version"]?.intValue
        buildFuncName = meta?["build_func_name"]?.stringValue
        var kw: [String: JSONValue] = [:]
        func merge(_ v: JSONValue?) {
            for (k, x) in v?["static_kwargs"]?.objectValue ?? [] { kw[k] = x }
        }
        merge(meta)
        merge(meta?["components"]?["synthesis"])
        merge(meta?["components"]?["mapping"])
        kwargs = kw
    }

    /// The raw tensor `Gs.<path>`.
    subscript(_ path: String) -> Tensor? { checkpoint.tensors[Self.prefix + path] }
    func has(_ path: String) -> Bool { self[path] != nil }
    func shape(_ path: String) -> [Int]? { self[path]?.shape }

    /// Resolutions `r` with a `{r}x{r}` synthesis block, ascending.
    var blockResolutions: [Int] {
        let p = Self.prefix + "synthesis."
        var out = Set<Int>()
        for n in checkpoint.tensors.names where n.hasPrefix(p) {
            let rest = n.dropFirst(p.count)
            guard let dot = rest.firstIndex(of: "."), let x = rest[..<dot].firstIndex(of: "x") else { continue }
            let a = rest[..<x], b = rest[rest.index(after: x)..<dot]
            if let r = Int(a), a == b, r >= 4 { out.insert(r) }
        }
        return out.sorted()
    }

    /// Refuses progressively grown networks that are not at lod 0: there only the final ToRGB is used, a
    /// fractional lod would blend two of them.
    func requireFullyGrown() throws {
        for path in ["lod", "synthesis.lod"] {
            if let lod = scalar(path), lod != 0 {
                throw ModelError("lod is \(lod): only fully grown networks (lod 0) are supported", file: checkpoint.path,
                                 location: Self.prefix + path)
            }
        }
    }

    /// Count of consecutive `mapping.Dense{i}.weight` variables from 0.
    var mappingLayerCount: Int {
        var n = 0
        while has("mapping.Dense\(n).weight") { n += 1 }
        return n
    }

    // Typed kwargs with the code default when the file leaves them out.
    func int(_ key: String, default d: Int) throws -> Int {
        guard let v = kwargs[key], v != .null else { return d }
        guard let i = v.intValue else { throw error("static kwarg '\(key)' must be an integer (found \(v.serialized()))") }
        return i
    }
    func optionalInt(_ key: String) throws -> Int? {
        guard let v = kwargs[key], v != .null else { return nil }
        guard let i = v.intValue else { throw error("static kwarg '\(key)' must be an integer (found \(v.serialized()))") }
        return i
    }
    func double(_ key: String, default d: Double) throws -> Double {
        guard let v = kwargs[key], v != .null else { return d }
        guard let x = v.doubleValue else { throw error("static kwarg '\(key)' must be a number (found \(v.serialized()))") }
        return x
    }
    func optionalDouble(_ key: String) throws -> Double? {
        guard let v = kwargs[key], v != .null else { return nil }
        guard let x = v.doubleValue else { throw error("static kwarg '\(key)' must be a number (found \(v.serialized()))") }
        return x
    }
    func string(_ key: String, default d: String) throws -> String {
        guard let v = kwargs[key], v != .null else { return d }
        guard let s = v.stringValue else { throw error("static kwarg '\(key)' must be a string (found \(v.serialized()))") }
        return s
    }
    func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = kwargs[key], v != .null else { return d }
        if let b = v.boolValue { return b }
        if let i = v.intValue { return i != 0 }   // TF code accepts truthy ints (v1 `use_noise` is used as a shape)
        throw error("static kwarg '\(key)' must be a boolean (found \(v.serialized()))")
    }
    /// A list of numbers (`resample_kernel`, `blur_filter`); nil when absent, [] when explicitly None/empty.
    func floats(_ key: String) throws -> [Float]? {
        guard let v = kwargs[key] else { return nil }
        if v == .null { return [] }
        guard let a = v.arrayValue else { throw error("static kwarg '\(key)' must be a list of numbers (found \(v.serialized()))") }
        var out: [Float] = []
        for x in a {
            guard let d = x.doubleValue else { throw error("static kwarg '\(key)' must be a list of numbers (found \(v.serialized()))") }
            out.append(Float(d))
        }
        return out
    }

    /// A scalar variable (`lod`), read as a float.
    func scalar(_ path: String) -> Float? {
        guard let t = self[path], t.elementCount == 1 else { return nil }
        return t.floats().first
    }

    func error(_ message: String, at location: String? = nil) -> ModelError {
        ModelError(message, file: checkpoint.path, location: location ?? "\(Self.network) static_kwargs")
    }
}
