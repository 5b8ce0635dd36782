import TensorStore

/// Parameters that could not be bound, all reported together (as a strict `load_state_dict` does).
public struct BindingError: GANKitError {
    public struct Mismatch: Sendable, Equatable {
        public var name: String
        public var source: String
        public var expected: [Int]
        public var found: [Int]
    }

    public var file: String?
    /// The architecture being bound.
    public var architecture: String
    /// Canonical names the model needs that the source does not hold.
    public var missing: [String]
    /// Raw names the source holds for this model that nothing used.
    public var unexpected: [String]
    /// Parameters found with the wrong shape.
    public var mismatched: [Mismatch]
    /// Parameters whose transform failed.
    public var failed: [String]

    public var isEmpty: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty && failed.isEmpty }

    public var description: String {
        var parts: [String] = []
        func list(_ names: [String]) -> String {
            let shown = names.prefix(12).joined(separator: ", ")
            return names.count > 12 ? shown + ", … (\(names.count) in all)" : shown
        }
        if !missing.isEmpty { parts.append("missing \(missing.count): \(list(missing))") }
        if !mismatched.isEmpty {
            parts.append("wrong shape \(mismatched.count): " + list(mismatched.map {
                "\($0.name) (from \($0.source)) expected \($0.expected) found \($0.found)"
            }))
        }
        if !unexpected.isEmpty { parts.append("unexpected \(unexpected.count): \(list(unexpected))") }
        if !failed.isEmpty { parts.append("failed \(failed.count): \(list(failed))") }
        let head = (file.map { "\($0): " } ?? "") + "cannot bind the \(architecture) parameters"
        return head + ": " + parts.joined(separator: "; ")
    }
}
