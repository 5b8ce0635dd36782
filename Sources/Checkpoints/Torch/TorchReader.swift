import TensorStore

/// Reads PyTorch containers (zip, legacy stream, tar) and plain pickles. Nothing in them is ever executed.
/// (Placeholder until the pickle machine lands: every entry point reports the format as not yet supported.)
public enum TorchReader {
    public static func readZip(zip: ZipArchive, path: String, options: LoadOptions) throws -> Checkpoint {
        throw StoreError(.unsupported, "torch zip checkpoints are not supported yet", file: path)
    }
    public static func readLegacy(file: MappedFile, path: String, options: LoadOptions) throws -> Checkpoint {
        throw StoreError(.unsupported, "legacy torch checkpoints are not supported yet", file: path)
    }
    public static func readTar(file: MappedFile, path: String, options: LoadOptions) throws -> Checkpoint {
        throw StoreError(.unsupported, "torch tar checkpoints are not supported yet", file: path)
    }
    public static func readPickle(file: MappedFile, path: String, options: LoadOptions) throws -> Checkpoint {
        throw StoreError(.unsupported, "pickle files are not supported yet", file: path)
    }
}
