import TensorStore

/// Opens any supported file and returns its raw checkpoint. The single entry point the mappers and tools use.
public enum CheckpointLoader {
    public static func load(path: String, options: LoadOptions = LoadOptions()) throws -> Checkpoint {
        do {
            return try loadUnlabelled(path: path, options: options)
        } catch let e as StoreError {
            throw e.at(file: path)
        }
    }

    private static func loadUnlabelled(path: String, options: LoadOptions) throws -> Checkpoint {
        let file = try MappedFile(path: path)
        guard let format = FormatDetector.detect(file.bytes) else {
            throw StoreError(.unsupported, "unrecognised file format (not safetensors, npy/npz, torch, pickle or HDF5)", file: path)
        }
        switch format {
        case .safetensors:
            var store = try SafeTensors.read(mapped: file)
            let meta = store.metadata.map { ($0.key, JSONValue.string($0.value)) }
            store.metadata = [:]
            return Checkpoint(path: path, format: .safetensors, tensors: store, metadata: meta)
        case .npy:
            return Checkpoint(path: path, format: .npy, tensors: try NumPy.readNPY(path: path))
        case .torchZip, .npz, .kerasArchive:
            let zip: ZipArchive
            do { zip = try ZipArchive(file: file) } catch let e as StoreError { throw e.at(file: path) }
            switch FormatDetector.refineZip(zip) {
            case .npz:
                return Checkpoint(path: path, format: .npz, tensors: try NumPy.readNPZ(path: path, maxMemberBytes: options.maxInflatedBytes))
            case .kerasArchive:
                return try KerasReader.readArchive(zip: zip, path: path, options: options)
            default:
                return try TorchReader.readZip(zip: zip, path: path, options: options)
            }
        case .torchLegacy:
            return try TorchReader.readLegacy(file: file, path: path, options: options)
        case .torchTar:
            return try TorchReader.readTar(file: file, path: path, options: options)
        case .pickle:
            return try TorchReader.readPickle(file: file, path: path, options: options)
        case .hdf5:
            return try KerasReader.readHDF5(path: path, options: options)
        }
    }
}
