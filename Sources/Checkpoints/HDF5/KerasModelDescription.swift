import TensorStore

/// A Keras model as its stored config describes it: the layers in order, each with its kind, hyper-parameters and
/// the raw tensor names of its weights in Keras order. Built from a checkpoint a `KerasReader` produced; the
/// forward pass consumes it.
public struct KerasModelDescription: Sendable {
    /// `Sequential`, `Functional` or `Model`.
    public var modelClass: String
    public var name: String?
    public var kerasVersion: String?
    public var backend: String?
    /// The model's input shape with the batch dimension first (nil entries are unknown), when the config says.
    public var inputShape: [Int?]?
    public var layers: [KerasLayer]
    /// Functional models only: the graph's input and output layer names.
    public var inputLayers: [String]
    public var outputLayers: [String]

    /// Metadata keys the reader writes and this description reads.
    public enum MetadataKey {
        public static let modelConfig = "model_config"
        public static let kerasVersion = "keras_version"
        public static let backend = "backend"
        public static let layout = "keras_layout"
        public static let weightGroups = "keras_weights"
    }

    /// Describes the model stored in a Keras checkpoint. Throws when the file stores no architecture, when a
    /// layer is not supported (the error names it), or when stored weights do not fit the layers.
    public init(checkpoint: Checkpoint) throws {
        let file = checkpoint.path
        func meta(_ key: String) -> JSONValue? { checkpoint.metadata.first { $0.0 == key }?.1 }
        guard let config = meta(MetadataKey.modelConfig) else {
            throw StoreError(.notFound, "no architecture is stored in this file (weights only); the model must be rebuilt in code", file: file)
        }
        let model = try KerasConfigParser.model(config, file: file)
        let kinds = try model.entries.map { try KerasConfigParser.kind(of: $0, file: file) }
        let groups = try KerasWeightGroup.list(from: meta(MetadataKey.weightGroups), file: file)
        let layout = meta(MetadataKey.layout)?.stringValue ?? ""
        let binder = KerasWeightBinder(file: file, tensors: checkpoint.tensors, groups: groups,
                                       byVariableIndex: layout == KerasLayout.keras3Weights.rawValue)
        let weights = try binder.bind(entries: model.entries, kinds: kinds)

        var layers: [KerasLayer] = []
        for (i, e) in model.entries.enumerated() {
            layers.append(KerasLayer(name: e.name, className: e.className, kind: kinds[i], weights: weights[i],
                                     inboundLayers: model.className == "Sequential" ? [] : e.inbound))
        }
        self.modelClass = model.className
        self.name = model.name
        self.kerasVersion = meta(MetadataKey.kerasVersion)?.stringValue
        self.backend = meta(MetadataKey.backend)?.stringValue
        self.layers = layers
        self.inputLayers = model.inputs
        self.outputLayers = model.outputs
        var input: [Int?]? = nil
        for (i, k) in kinds.enumerated() {
            if case let .input(shape) = k { input = shape; break }
            if i == 0 { input = KerasConfigParser.shape(model.entries[0].config["batch_input_shape"]) ?? model.entries[0].buildInputShape }
            break
        }
        self.inputShape = input ?? model.buildInputShape
    }

    /// The layers with weights, each once.
    public var weightedLayers: [KerasLayer] { layers.filter { !$0.weights.isEmpty } }

    /// The heading line of a listing.
    public var heading: String {
        var s = "Keras \(modelClass)"
        if let name { s += " '\(name)'" }
        s += ", \(layers.count) layers"
        if let inputShape { s += ", input " + "(" + inputShape.map { $0.map(String.init) ?? "None" }.joined(separator: ", ") + ")" }
        var from: [String] = []
        if let kerasVersion { from.append("keras \(kerasVersion)") }
        if let backend { from.append(backend) }
        if !from.isEmpty { s += " [\(from.joined(separator: ", "))]" }
        return s
    }

    /// One line per layer, with its weights' shapes.
    public var layerLines: [String] {
        layers.enumerated().map { i, l in
            var s = "layer \(i): \(l.summary)"
            if !l.weights.isEmpty {
                s += " weights " + l.weights.map { "\($0.role) " + KerasFormat.list($0.shape) }.joined(separator: ", ")
            }
            if !l.inboundLayers.isEmpty { s += " <- " + l.inboundLayers.joined(separator: ", ") }
            return s
        }
    }

    /// The layer list as a tree: one node per layer, its weights (role, raw name, shape) below it.
    public var tree: CheckpointTree {
        CheckpointTree(heading, children: layers.map { l in
            CheckpointTree(l.summary + (l.inboundLayers.isEmpty ? "" : " <- " + l.inboundLayers.joined(separator: ", ")),
                           children: l.weights.map { CheckpointTree("\($0.role): \($0.rawName) \(KerasFormat.list($0.shape))") })
        })
    }
}
