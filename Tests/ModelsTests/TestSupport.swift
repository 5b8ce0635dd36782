import Foundation
import GANKit

/// Files under Fixtures/models, found relative to this source file.
enum ModelFixtures {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Fixtures/models").path
    }()

    static func path(_ name: String) -> String { root + "/" + name }
}

/// A fresh temporary directory per test.
func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "gankit-models-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A float tensor with values `f(i)`.
func tensor(_ shape: [Int], _ f: (Int) -> Float) -> Tensor {
    Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map(f))
}
