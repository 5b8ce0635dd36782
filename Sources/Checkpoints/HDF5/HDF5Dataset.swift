import CHDF5
import TensorStore

/// Byte budgets for reading datasets: checked against declared shapes before anything is allocated.
struct HDF5ReadBudget {
    /// Largest single tensor.
    var maxTensorBytes: Int
    /// What all tensors together may still take.
    var remainingBytes: Int

    init(maxBytes: Int) {
        maxTensorBytes = maxBytes
        remainingBytes = maxBytes
    }

    /// A deflate stream expands at most about 1032:1; anything beyond this ratio is a lie.
    static let maxFilterRatio = 1100
    /// Slack for fill values of small unwritten datasets.
    static let unwrittenSlack = 1 << 20
}

/// What reading one dataset gave: a tensor, or a reason it is not one (strings, compound records, …).
enum HDF5DatasetResult {
    case tensor(Tensor)
    case skipped(String)
}

extension HDF5File {
    static let maxRank = 32

    /// Reads the dataset at `path` into owned little-endian memory in its own dtype (float16 stays float16).
    func readDataset(_ path: String, budget: inout HDF5ReadBudget) throws -> HDF5DatasetResult {
        HDF5Errors.silence()
        let label = "/" + path
        func fail(_ what: String) -> StoreError { HDF5Errors.failure(what, file: source, tensor: label) }
        let did = H5Dopen2(handle.id, path, hid_t(H5P_DEFAULT))
        guard did >= 0 else { throw fail("opening the dataset") }
        let dataset = HDF5Handle(did, .dataset, parent: handle)

        // Shape.
        let sid = H5Dget_space(dataset.id)
        guard sid >= 0 else { throw fail("reading the dataspace") }
        let space = HDF5Handle(sid, .dataspace)
        let spaceClass = H5Sget_simple_extent_type(space.id)
        if spaceClass == H5S_NULL { return .skipped("null dataspace (no data)") }
        let rank = H5Sget_simple_extent_ndims(space.id)
        guard rank >= 0 else { throw fail("reading the rank") }
        guard rank <= HDF5File.maxRank else {
            throw StoreError(.unsupported, "dataset has rank \(rank), above \(HDF5File.maxRank)", file: source, tensor: label)
        }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 { guard H5Sget_simple_extent_dims(space.id, &dims, nil) >= 0 else { throw fail("reading the dimensions") } }
        var shape: [Int] = []
        for d in dims {
            guard let v = Int(exactly: d) else {
                throw StoreError(.outOfBounds, "dataset declares dimension \(d), which cannot be addressed", file: source, tensor: label)
            }
            shape.append(v)
        }

        // Element type.
        let tid = H5Dget_type(dataset.id)
        guard tid >= 0 else { throw fail("reading the datatype") }
        let type = HDF5Handle(tid, .datatype)
        let dtype: DType
        // Keras 3 stores bfloat16 variables as 2-byte opaque data tagged with the attribute dtype="bfloat16".
        var opaqueBF16 = false
        if H5Tget_class(type.id) == H5T_OPAQUE, H5Tget_size(type.id) == 2 {
            opaqueBF16 = try stringAttribute("dtype", of: path) == "bfloat16"
        }
        if opaqueBF16 {
            dtype = .bf16
        } else {
            switch try elementType(type, label: label) {
            case let .success(d): dtype = d
            case let .failure(reason): return .skipped(reason.text)
            }
        }

        // Budgets, before allocating: element count × size, the per-tensor and total limits, and what the
        // file actually stores.
        guard let count = CheckedMath.elementCount(shape), let bytes = CheckedMath.multiply(count, dtype.size) else {
            throw StoreError(.outOfBounds, "declared shape \(shape) of \(dtype.displayName) overflows", file: source, tensor: label)
        }
        guard bytes <= budget.maxTensorBytes else {
            throw StoreError(.tooLarge, "declared shape \(shape) of \(dtype.displayName) needs \(bytes) bytes, above the \(budget.maxTensorBytes)-byte limit", file: source, tensor: label)
        }
        guard bytes <= budget.remainingBytes else {
            throw StoreError(.tooLarge, "the file's tensors together exceed the \(budget.maxTensorBytes)-byte limit", file: source, tensor: label)
        }
        let filtered = try checkFilters(dataset, label: label)
        let stored = H5Dget_storage_size(dataset.id)
        let storedBytes = Int(exactly: stored) ?? Int.max
        let ratio = filtered ? HDF5ReadBudget.maxFilterRatio : 1
        let allowance = (CheckedMath.multiply(storedBytes, ratio) ?? Int.max).addingReportingOverflow(HDF5ReadBudget.unwrittenSlack)
        if !allowance.overflow, bytes > allowance.partialValue {
            throw StoreError(.corrupt, "declared shape \(shape) of \(dtype.displayName) needs \(bytes) bytes but the file stores only \(storedBytes)\(filtered ? " compressed" : "") bytes for it", file: source, tensor: label)
        }
        budget.remainingBytes -= bytes

        // Read, converting to little-endian in the file's own element type.
        let mid = H5Tcopy(type.id)
        guard mid >= 0 else { throw fail("copying the datatype") }
        let memType = HDF5Handle(mid, .datatype)
        if dtype != .bool, dtype.size > 1, !opaqueBF16 { guard H5Tset_order(mid, H5T_ORDER_LE) >= 0 else { throw fail("setting the byte order") } }
        let storage = Storage.uninitialized(byteCount: bytes)
        if bytes > 0 {
            guard H5Dread(dataset.id, memType.id, H5S_ALL, H5S_ALL, hid_t(H5P_DEFAULT), storage.mutableBytes.baseAddress) >= 0 else {
                throw fail("reading the data")
            }
        }
        return .tensor(try Tensor(storage: storage, dtype: dtype, shape: shape))
    }

    struct NotATensor: Error { var text: String }

    /// The tensor dtype of an HDF5 element type, or why it is not a tensor element.
    private func elementType(_ type: HDF5Handle, label: String) throws -> Result<DType, NotATensor> {
        let size = H5Tget_size(type.id)
        switch H5Tget_class(type.id) {
        case H5T_FLOAT:
            let order = H5Tget_order(type.id)
            guard order == H5T_ORDER_LE || order == H5T_ORDER_BE else {
                throw StoreError(.unsupported, "floating-point dataset with byte order \(order.rawValue)", file: source, tensor: label)
            }
            var spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0
            guard H5Tget_fields(type.id, &spos, &epos, &esize, &mpos, &msize) >= 0 else {
                throw HDF5Errors.failure("reading the float layout", file: source, tensor: label)
            }
            switch (size, esize, msize) {
            case (2, 5, 10): return .success(.f16)
            case (2, 8, 7): return .success(.bf16)
            case (4, 8, 23): return .success(.f32)
            case (8, 11, 52): return .success(.f64)
            default:
                throw StoreError(.unsupported, "\(size)-byte float with \(esize) exponent and \(msize) mantissa bits is not supported", file: source, tensor: label)
            }
        case H5T_INTEGER:
            let signed = H5Tget_sign(type.id) == H5T_SGN_2
            switch size {
            case 1: return .success(signed ? .i8 : .u8)
            case 2: return .success(signed ? .i16 : .u16)
            case 4: return .success(signed ? .i32 : .u32)
            case 8: return .success(signed ? .i64 : .u64)
            default:
                throw StoreError(.unsupported, "\(size)-byte integers are not supported", file: source, tensor: label)
            }
        case H5T_ENUM:
            // h5py stores numpy bool as a 1-byte enum {FALSE, TRUE}.
            if size == 1, H5Tget_nmembers(type.id) == 2 { return .success(.bool) }
            return .failure(NotATensor(text: "enum dataset (not a tensor)"))
        case H5T_STRING: return .failure(NotATensor(text: "string dataset (not a tensor)"))
        case H5T_COMPOUND: return .failure(NotATensor(text: "compound dataset (not a tensor)"))
        case H5T_OPAQUE: return .failure(NotATensor(text: "opaque dataset (not a tensor)"))
        default: return .failure(NotATensor(text: "dataset of HDF5 type class \(H5Tget_class(type.id).rawValue) (not a tensor)"))
        }
    }

    /// Whether the dataset is filtered; a filter this libhdf5 cannot run is an `unsupported` error naming it.
    private func checkFilters(_ dataset: HDF5Handle, label: String) throws -> Bool {
        let pid = H5Dget_create_plist(dataset.id)
        guard pid >= 0 else { throw HDF5Errors.failure("reading the creation properties", file: source, tensor: label) }
        let plist = HDF5Handle(pid, .propertyList)
        let n = H5Pget_nfilters(plist.id)
        guard n >= 0 else { throw HDF5Errors.failure("reading the filter pipeline", file: source, tensor: label) }
        for i in 0..<UInt32(n) {
            var flags: UInt32 = 0
            var nelmts = 0
            var config: UInt32 = 0
            var name = [CChar](repeating: 0, count: 80)
            let filter = H5Pget_filter2(plist.id, i, &flags, &nelmts, nil, name.count, &name, &config)
            guard filter >= 0 else { throw HDF5Errors.failure("reading filter \(i)", file: source, tensor: label) }
            if H5Zfilter_avail(filter) <= 0 {
                _ = HDF5Errors.drainMessages()
                let text = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                throw StoreError(.unsupported, "dataset is compressed with HDF5 filter \(filter)\(text.isEmpty ? "" : " (\(text))"), which this libhdf5 does not provide", file: source, tensor: label)
            }
        }
        return n > 0
    }
}
