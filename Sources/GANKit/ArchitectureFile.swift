import Models
import TensorStore

extension MapperOptions {
    /// Options carrying the sequential architecture description in `path` (`--arch FILE.json`).
    public static func architectureFile(_ path: String) throws -> MapperOptions {
        let file = try MappedFile(path: path)
        guard file.count <= 4 << 20 else { throw StoreError(.tooLarge, "an architecture description above 4 MB is implausible", file: path) }
        do {
            let json = try JSONValue.parse(file.bytes, maxDepth: 64)
            return MapperOptions(architecture: json, architecturePath: path)
        } catch let e as StoreError {
            throw e.at(file: path)
        } catch {
            throw StoreError(.corrupt, "not valid JSON (\(error))", file: path)
        }
    }
}
