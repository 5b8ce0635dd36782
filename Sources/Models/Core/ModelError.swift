import TensorStore

/// A problem building or running a model: an unrecognised checkpoint, a bad architecture description, inputs
/// of the wrong shape. Names the file and the place (layer, key) where it was found.
public struct ModelError: GANKitError, Equatable {
    public var file: String?
    /// The layer, key or argument concerned.
    public var location: String?
    public var message: String

    public init(_ message: String, file: String? = nil, location: String? = nil) {
        self.message = message
        self.file = file
        self.location = location
    }

    public func at(file: String) -> ModelError {
        var copy = self
        if copy.file == nil { copy.file = file }
        return copy
    }

    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if let location { parts.append(location) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}
