import TensorStore

/// Binds a model's parameters by path, the way candle's `VarBuilder` does: the model asks for
/// `params.scope("synthesis").scope("b8").tensor("conv0.weight", shape: [...])`, the mapping decides which raw
/// tensor answers and how it is transformed. Problems are collected, not thrown one at a time: a placeholder
/// of the requested shape is returned so construction can go on, and `finish()` reports everything at once.
public final class ParameterBinder {
    public let file: String?
    public let architecture: String
    let raw: TensorStore
    let mapping: ParameterMapping
    /// Canonical name → bound tensor (contiguous float32), in the order the model asked for them.
    public private(set) var bound: OrderedDictionary<String, Tensor> = [:]
    private var used: Set<String> = []
    private var missing: [String] = []
    private var mismatched: [BindingError.Mismatch] = []
    private var failed: [String] = []

    public init(raw: TensorStore, mapping: ParameterMapping, architecture: String, file: String? = nil) {
        self.raw = raw
        self.mapping = mapping
        self.architecture = architecture
        self.file = file
    }

    /// The root scope.
    public var root: ParameterScope { ParameterScope(binder: self, prefix: "") }

    /// Marks raw tensors as used without binding them (read by the mapper itself, e.g. a config value).
    public func markUsed(_ rawName: String) { used.insert(rawName) }

    /// True when the mapping can answer `name` (for optional parameters such as a bias).
    public func has(_ name: String) -> Bool {
        guard let r = mapping.resolve(name) else { return false }
        if let n = r.rawName { return raw[n] != nil }
        return r.value != nil
    }

    func take(_ name: String, shape: [Int]) -> Tensor {
        if let t = bound[name] {
            if t.shape != shape { mismatched.append(.init(name: name, source: name, expected: shape, found: t.shape)) }
            return t.shape == shape ? t : Tensor(zeros: shape)
        }
        guard let r = mapping.resolve(name) else {
            missing.append(name)
            return Tensor(zeros: shape)
        }
        let value: Tensor
        let sourceName: String
        if let v = r.value {
            value = v.toFloat32()
            sourceName = "(computed)"
        } else if let n = r.rawName, let t = raw[n] {
            used.insert(n)
            sourceName = n
            do {
                value = try r.transform.apply(t)
            } catch {
                failed.append("\(name) from \(n): \(error)")
                return Tensor(zeros: shape)
            }
        } else {
            missing.append(name + (r.rawName.map { " (raw '\($0)')" } ?? ""))
            return Tensor(zeros: shape)
        }
        guard value.shape == shape else {
            mismatched.append(.init(name: name, source: sourceName, expected: shape, found: value.shape))
            return Tensor(zeros: shape)
        }
        // Bound parameters are read-only: the engine may keep their packed forms from call to call.
        bound[name] = value.frozen()
        return value
    }

    /// Throws a `BindingError` listing every missing, unexpected, mis-shaped or failed parameter.
    public func finish() throws {
        let unexpected = raw.names.filter { mapping.owns($0) && !used.contains($0) && !mapping.ignorable($0) }
        let error = BindingError(file: file, architecture: architecture, missing: missing, unexpected: unexpected,
                                 mismatched: mismatched, failed: failed)
        if !error.isEmpty { throw error }
    }
}

/// A path prefix inside a binder: `scope("b8").tensor("conv0.weight", ...)` asks for `b8.conv0.weight`.
public struct ParameterScope {
    public let binder: ParameterBinder
    public let prefix: String

    public func scope(_ name: String) -> ParameterScope {
        ParameterScope(binder: binder, prefix: path(name))
    }

    /// The canonical name of `name` in this scope.
    public func path(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    /// The parameter `name` with exactly `shape`; problems are recorded and reported by `finish()`.
    public func tensor(_ name: String, shape: [Int]) -> Tensor {
        binder.take(path(name), shape: shape)
    }

    /// The parameter when the source has it, nil otherwise (optional biases, affine-less norms).
    public func optionalTensor(_ name: String, shape: [Int]) -> Tensor? {
        binder.has(path(name)) ? binder.take(path(name), shape: shape) : nil
    }

    public func has(_ name: String) -> Bool { binder.has(path(name)) }
}
