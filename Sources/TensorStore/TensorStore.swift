@_exported import OrderedCollections

/// The canonical tensor store every reader produces and every writer consumes: ordered names → tensors plus
/// string metadata (what ends up in a safetensors `__metadata__`).
public struct TensorStore: Sendable {
    public private(set) var tensors: OrderedDictionary<String, Tensor> = [:]
    public var metadata: OrderedDictionary<String, String> = [:]

    public init() {}

    public init(tensors: OrderedDictionary<String, Tensor>, metadata: OrderedDictionary<String, String> = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public var names: [String] { Array(tensors.keys) }
    public var count: Int { tensors.count }
    public var isEmpty: Bool { tensors.isEmpty }

    public subscript(name: String) -> Tensor? {
        get { tensors[name] }
        set { tensors[name] = newValue }
    }

    /// Adds a tensor; a second tensor under an existing name is an error (files must not say two things).
    public mutating func insert(_ tensor: Tensor, named name: String) throws {
        guard tensors[name] == nil else {
            throw StoreError(.corrupt, "tensor name appears twice", tensor: name)
        }
        tensors[name] = tensor
    }

    /// The tensor under `name`, or a `notFound` error naming it.
    public func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw StoreError(.notFound, "no such tensor", tensor: name) }
        return t
    }

    /// Total bytes of all tensors when written contiguously.
    public var totalBytes: Int { tensors.values.reduce(0) { $0 + $1.byteCount } }
}
