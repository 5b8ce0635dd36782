import TensorStore

/// Reads HDF5 weight files (Keras 2/3 whole-model `.h5`, weights-only `.h5`, `.weights.h5`) and `.keras` archives.
/// (Placeholder until the HDF5 reader lands.)
public enum KerasReader {
    public static func readHDF5(path: String, options: LoadOptions) throws -> Checkpoint {
        throw StoreError(.unsupported, "HDF5 files are not supported yet", file: path)
    }
    public static func readArchive(zip: ZipArchive, path: String, options: LoadOptions) throws -> Checkpoint {
        throw StoreError(.unsupported, ".keras archives are not supported yet", file: path)
    }
}
