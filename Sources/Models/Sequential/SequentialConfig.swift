import TensorStore

/// A sequential generator: latent (and optional class) in, a stack of layers, an NCHW image out.
/// This is the config JSON of canonical files and the schema of `--arch` files (Formats/arch-json.md).
public struct SequentialConfig: Equatable {
    public var zDim: Int
    /// Number of classes for class-conditional models (one-hot `c`), 0 otherwise.
    public var classes: Int
    public var layers: [SequentialLayer]
    /// Final `[C, H, W]` view when the last layer is flat (MLP generators).
    public var outputShape: [Int]?
    public var outputRange: OutputRange
    /// Where the weights came from (informational: `pytorch`, `keras`).
    public var origin: String

    public init(zDim: Int, classes: Int = 0, layers: [SequentialLayer], outputShape: [Int]? = nil,
                outputRange: OutputRange = .minusOneToOne, origin: String = "pytorch") {
        self.zDim = zDim
        self.classes = classes
        self.layers = layers
        self.outputShape = outputShape
        self.outputRange = outputRange
        self.origin = origin
    }

    public init(json: JSONValue) throws {
        guard case .object = json else { throw ModelError("an architecture description must be a JSON object") }
        zDim = try json.int("z_dim", in: "architecture")
        classes = json.int("classes", default: 0)
        guard let list = json["layers"]?.arrayValue, !list.isEmpty else {
            throw ModelError("\"layers\" must be a non-empty list", location: "architecture")
        }
        layers = try list.enumerated().map { try SequentialLayer(json: $1, index: $0) }
        outputShape = json.ints("output_shape")
        if let s = outputShape, s.count != 3 { throw ModelError("\"output_shape\" must be [C, H, W]", location: "architecture") }
        let range = json.string("output_range", default: "")
        if range.isEmpty {
            // The last activation says it: sigmoid outputs live in [0, 1], tanh (and others) in [-1, 1].
            outputRange = layers.last == .activation(.sigmoid) ? .zeroToOne : .minusOneToOne
        } else {
            guard let r = OutputRange(rawValue: range) else {
                throw ModelError("\"output_range\" must be \"[-1,1]\" or \"[0,1]\"", location: "architecture")
            }
            outputRange = r
        }
        origin = json.string("origin", default: "pytorch")
    }

    public var json: JSONValue {
        var items: [(String, JSONValue)] = [("z_dim", .int(zDim))]
        if classes > 0 { items.append(("classes", .int(classes))) }
        items.append(("layers", .array(layers.map(\.json))))
        if let s = outputShape { items.append(("output_shape", .ints(s))) }
        items.append(("output_range", .string(outputRange.rawValue)))
        items.append(("origin", .string(origin)))
        return .object(items)
    }
}
