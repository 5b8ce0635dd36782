import Foundation
import TensorStore

/// Locates files under the package's Fixtures/ folder relative to this source file.
enum FixturePath {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Fixtures").path
    }()

    static func store(_ name: String) -> String { root + "/store/" + name }
}

/// A fresh temporary directory per test, removed by the caller.
func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "gankit-tests-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func writeFile(_ path: String, _ bytes: [UInt8]) {
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

/// A safetensors file assembled by hand from a header string and data bytes.
func safetensorsBytes(header: String, data: [UInt8]) -> [UInt8] {
    let h = Array(header.utf8)
    return withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) } + h + data
}
