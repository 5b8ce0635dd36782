import TensorStore

/// Lists every global a file's pickles reference, classed allowed / unknown / dangerous, without building
/// tensors and without ever refusing: `scan` must report what a hostile file holds.
public enum CheckpointScanner {
    public static func scan(path: String) throws -> [GlobalReference] {
        let file = try MappedFile(path: path)
        guard let format = FormatDetector.detect(file.bytes) else {
            throw StoreError(.unsupported, "unrecognised file format", file: path)
        }
        switch format {
        case .torchZip, .torchLegacy, .torchTar, .pickle:
            return try PickleScan.scan(file: file, path: path, format: format)
        default:
            return []
        }
    }
}
