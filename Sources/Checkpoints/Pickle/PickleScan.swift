import TensorStore

/// Placeholder until the pickle machine lands.
enum PickleScan {
    static func scan(file: MappedFile, path: String, format: CheckpointFormat) throws -> [GlobalReference] {
        throw StoreError(.unsupported, "scanning pickles is not supported yet", file: path)
    }
}
