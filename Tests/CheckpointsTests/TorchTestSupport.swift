import Foundation
@testable import Checkpoints
import TensorStore

/// Locates the torch fixtures (Fixtures/torch, Fixtures/hostile) relative to this source file, and checks a
/// checkpoint against a manifest (raw name → dtype, shape, sha256 of C-contiguous little-endian bytes).
enum TorchFixtures {
    static let repo: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func path(_ name: String) -> String { repo + "/Fixtures/torch/" + name }
    static func hostile(_ name: String) -> String { repo + "/Fixtures/hostile/" + name }

    static func json(_ path: String) throws -> JSONValue {
        let file = try MappedFile(path: path)
        return try JSONValue.parse(file.bytes)
    }

    /// Mismatches between a checkpoint and a manifest; empty when every name, dtype, shape and hash agrees and
    /// the checkpoint holds no tensor the manifest does not list.
    static func mismatches(_ ck: Checkpoint, manifest path: String) throws -> [String] {
        guard case let .object(entries) = try json(path) else { return ["manifest is not an object"] }
        var problems: [String] = []
        for (rawName, spec) in entries {
            let name = rawName.replacingOccurrences(of: "/", with: ".")
            guard let t = ck.tensors[name] else { problems.append("missing \(name)"); continue }
            if spec["dtype"]?.stringValue != t.dtype.safetensorsName { problems.append("dtype of \(name)") }
            if spec["shape"]?.arrayValue?.compactMap(\.intValue) != t.shape { problems.append("shape of \(name)") }
            let digest = t.withContiguousBytes { SHA256.hexDigest(of: $0) }
            if spec["sha256"]?.stringValue != digest { problems.append("bytes of \(name)") }
        }
        if ck.tensors.count != entries.count { problems.append("\(ck.tensors.count) tensors, manifest lists \(entries.count)") }
        return problems
    }

    static func temporaryFile(_ bytes: [UInt8], suffix: String = ".pkl") -> String {
        let p = NSTemporaryDirectory() + "gankit-torch-" + UUID().uuidString + suffix
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    /// Runs the pickle machine over `bytes` with a fresh context. Keep the context alive while using the value:
    /// its teardown cuts every container's links.
    static func unpickle(_ bytes: [UInt8], budget: ((PickleBudget) -> Void)? = nil) throws -> (PickleValue, PickleContext) {
        let storage = bytes.withUnsafeBytes { Storage(copying: $0) }
        let context = PickleContext(allowDangerousGlobals: false, sourceBytes: bytes.count)
        budget?(context.budget)
        var m = PickleMachine(source: storage, label: "test", context: context)
        return (try m.run(), context)
    }
}
