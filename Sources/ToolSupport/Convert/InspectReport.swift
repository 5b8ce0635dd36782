import Checkpoints
import TensorStore

/// What `gan-convert inspect` prints, as text or JSON.
public struct InspectReport {
    public let checkpoint: Checkpoint

    public init(_ checkpoint: Checkpoint) { self.checkpoint = checkpoint }

    public var json: JSONValue {
        var items: [(String, JSONValue)] = [
            ("file", .string(checkpoint.path)),
            ("format", .string(checkpoint.format.rawValue)),
            ("tensor_count", .number(Double(checkpoint.tensors.count))),
            ("total_bytes", .number(Double(checkpoint.tensors.totalBytes))),
            ("tensors", .array(checkpoint.tensors.tensors.map { name, t in
                .object([
                    ("name", .string(name)),
                    ("dtype", .string(t.dtype.displayName)),
                    ("shape", .array(t.shape.map { .number(Double($0)) })),
                    ("bytes", .number(Double(t.byteCount))),
                ])
            })),
            ("metadata", .object(checkpoint.metadata)),
        ]
        if !checkpoint.hints.isEmpty { items.append(("hints", .array(checkpoint.hints.map { .string($0) }))) }
        if !checkpoint.warnings.isEmpty { items.append(("warnings", .array(checkpoint.warnings.map { .string($0) }))) }
        return .object(items)
    }

    public func text(tree: Bool) -> String {
        var lines: [String] = []
        lines.append("file: \(checkpoint.path)")
        lines.append("format: \(checkpoint.format.rawValue)")
        for h in checkpoint.hints { lines.append("hint: \(h)") }
        let store = checkpoint.tensors
        lines.append("tensors: \(store.count) (\(ByteFormat.string(store.totalBytes)))")
        let nameWidth = min(72, store.names.map(\.count).max() ?? 4)
        for (name, t) in store.tensors {
            let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
            lines.append("  " + pad(name, nameWidth) + "  " + pad(t.dtype.displayName, 8) + "  " + pad(shape, 22) + "  " + ByteFormat.string(t.byteCount))
        }
        if !checkpoint.metadata.isEmpty {
            lines.append("metadata:")
            for (k, v) in checkpoint.metadata {
                var s = v.stringValue ?? v.serialized()
                if s.count > 400 { s = String(s.prefix(400)) + "…" }
                lines.append("  \(k): \(s)")
            }
        }
        if tree, let t = checkpoint.tree {
            lines.append("tree:")
            lines += t.rendered(indent: "  ")
        }
        for w in checkpoint.warnings { lines.append("warning: \(w)") }
        return lines.joined(separator: "\n")
    }

    private func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
    }
}
