import Foundation
@testable import Checkpoints
import TensorStore

/// Locates the Keras / HDF5 fixtures (Fixtures/keras, made by Scripts/make_keras_fixtures.py) relative to this
/// source file.
enum KerasFixtures {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Fixtures/keras").path
    }()

    static func path(_ name: String) -> String { root + "/" + name }

    static func load(_ name: String) throws -> Checkpoint { try CheckpointLoader.load(path: path(name)) }

    /// The companion `.npz` the fixture script wrote with h5py: every dataset under its raw name.
    static func expected(_ name: String) throws -> TensorStore { try NumPy.readNPZ(path: path(name) + ".npz") }

    static func temporaryFile(_ bytes: [UInt8], suffix: String) -> String {
        let p = NSTemporaryDirectory() + "gankit-keras-" + UUID().uuidString + suffix
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name))))
    }
}

extension Tensor {
    /// C-order little-endian bytes, for exact comparisons.
    var kerasTestBytes: [UInt8] { withContiguousBytes { Array($0) } }
}

extension Checkpoint {
    func kerasMeta(_ key: String) -> JSONValue? { metadata.first { $0.0 == key }?.1 }
}
