import TensorStore

/// An op was called with arguments it cannot compute on: mismatched shapes, a bad rank, impossible geometry.
///
/// Shapes usually come from checkpoint files, so the engine never traps on them; it throws this instead, naming
/// the op and what was wrong. `file` is nil because the engine does not know which file the tensors came from
/// (the model layer adds that context when it rethrows).
public struct EngineError: GANKitError, Equatable {
    /// The op that refused, e.g. "conv2d".
    public var op: String
    /// What was wrong, with the shapes involved.
    public var message: String
    public var file: String? { nil }

    public init(_ op: String, _ message: String) {
        self.op = op
        self.message = message
    }

    public var description: String { "\(op): \(message)" }
}
