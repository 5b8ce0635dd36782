import Checkpoints
import TensorStore
#if canImport(Glibc)
import Glibc
#endif

/// Writes a checkpoint's raw tensors to safetensors, with its source format and non-tensor metadata.
public enum RawConverter {
    /// The safetensors `__metadata__` for a raw conversion: metadata already in a safetensors source is kept
    /// as is; other sources record their format and their non-tensor metadata as JSON.
    public static func metadata(for checkpoint: Checkpoint) -> [(String, String)] {
        if checkpoint.format == .safetensors {
            return checkpoint.metadata.map { ($0.0, $0.1.stringValue ?? $0.1.serialized()) }
        }
        var out: [(String, String)] = [("format", "pt"), ("gankit.source_format", checkpoint.format.rawValue)]
        if !checkpoint.metadata.isEmpty {
            out.append(("gankit.metadata", JSONValue.object(checkpoint.metadata).serialized()))
        }
        return out
    }

    /// Refuses to write over the input file itself, whatever `--force` says.
    public static func checkNotSameFile(input: String, output: String) throws {
        var a = stat(), b = stat()
        guard stat(input, &a) == 0, stat(output, &b) == 0 else { return }
        if a.st_dev == b.st_dev && a.st_ino == b.st_ino {
            throw StoreError(.refused, "output is the input file; the input is never overwritten", file: output)
        }
    }

    public static func write(_ checkpoint: Checkpoint, to output: String, overwrite: Bool,
                             progress: ((Int, Int) -> Void)? = nil) throws {
        try checkNotSameFile(input: checkpoint.path, output: output)
        var store = checkpoint.tensors
        store.metadata = [:]
        for (k, v) in metadata(for: checkpoint) { store.metadata[k] = v }
        try SafeTensors.write(store, to: output, overwrite: overwrite, progress: progress)
    }
}
