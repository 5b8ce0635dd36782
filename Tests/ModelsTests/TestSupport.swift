import Checkpoints
import Foundation
import GANKit
import Testing

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

/// `golden` with pixel 7 of its image moved by 5% of the image's largest magnitude (at least 0.05): the
/// verifier must reject it, or a passing parity check proves nothing.
func goldenWithOnePixelMoved(_ golden: Golden) -> Golden {
    var moved = golden
    let image = golden.expected["image"]!
    var pixels = image.floats()
    pixels[7] += 0.05 * max(1, pixels.map(abs).max()!)
    moved.expected["image"] = Tensor(shape: image.shape, floats: pixels)
    return moved
}

/// Converts `checkpoint` to canonical safetensors in a fresh temporary folder, loads that file back and hands
/// the conversion result and the reloaded generator to `body`; the folder is removed afterwards.
func withCanonicalCopy<R>(of checkpoint: Checkpoint, options: MapperOptions = MapperOptions(),
                          _ body: (CanonicalConverter.Result, GeneratorLoader.Loaded) throws -> R) throws -> R {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let out = dir + "/canonical.safetensors"
    let result = try CanonicalConverter.convert(checkpoint, to: out, options: options)
    let reloaded = try GeneratorLoader.load(path: out)
    #expect(reloaded.mapper == "canonical")
    return try body(result, reloaded)
}
