import CHDF5
import TensorStore

/// The value of an HDF5 attribute as far as weight files use them: strings (fixed or variable length, scalar or
/// arrays such as Keras' `layer_names`) and numbers.
enum HDF5AttributeValue: Equatable {
    case strings([String])
    case numbers([Double])
    /// A null dataspace or a zero-element array (h5py writes empty lists as empty float64 arrays).
    case empty
    case unsupported(String)

    /// The strings of a string attribute; an empty attribute is an empty list.
    var stringList: [String]? {
        switch self {
        case let .strings(s): return s
        case .empty: return []
        case let .numbers(n): return n.isEmpty ? [] : nil
        case .unsupported: return nil
        }
    }
}

extension HDF5File {
    /// Largest attribute accepted (Keras splits its own at 64 KiB; model configs stay in the megabytes).
    static let maxAttributeBytes = 64 << 20

    /// Attribute `name` of the object at `path`, or nil when it does not exist.
    func attribute(_ name: String, of path: String) throws -> HDF5AttributeValue? {
        let object = try openObject(path)
        HDF5Errors.silence()
        let exists = H5Aexists(object.id, name)
        guard exists >= 0 else { throw HDF5Errors.failure("looking up attribute '\(name)' of '/\(path)'", file: source) }
        guard exists > 0 else { return nil }
        let aid = H5Aopen(object.id, name, hid_t(H5P_DEFAULT))
        guard aid >= 0 else { throw HDF5Errors.failure("opening attribute '\(name)' of '/\(path)'", file: source) }
        let attr = HDF5Handle(aid, .attribute, parent: object)
        return try readAttribute(attr, object: object, name: name, label: "attribute '\(name)' of '/\(path)'")
    }

    /// The string-list attribute Keras writes (`layer_names`, `weight_names`), also when Keras split it into
    /// `name0`, `name1`, … because it exceeded the object-header limit. Nil when absent.
    func kerasStringList(_ name: String, of path: String) throws -> [String]? {
        if let v = try attribute(name, of: path) {
            guard let list = v.stringList else {
                throw StoreError(.corrupt, "attribute '\(name)' of '/\(path)' is not a list of strings", file: source)
            }
            return list
        }
        var out: [String] = []
        var i = 0
        while let v = try attribute("\(name)\(i)", of: path) {
            guard let list = v.stringList else {
                throw StoreError(.corrupt, "attribute '\(name)\(i)' of '/\(path)' is not a list of strings", file: source)
            }
            out += list
            i += 1
        }
        return i == 0 ? nil : out
    }

    /// One string (scalar or one-element list), or nil when absent or not a string.
    func stringAttribute(_ name: String, of path: String) throws -> String? {
        guard case let .strings(s)? = try attribute(name, of: path), s.count == 1 else { return nil }
        return s[0]
    }

    private func readAttribute(_ attr: HDF5Handle, object: HDF5Handle, name: String, label: String) throws -> HDF5AttributeValue {
        let tid = H5Aget_type(attr.id)
        guard tid >= 0 else { throw HDF5Errors.failure("reading the type of \(label)", file: source) }
        let type = HDF5Handle(tid, .datatype)
        let sid = H5Aget_space(attr.id)
        guard sid >= 0 else { throw HDF5Errors.failure("reading the shape of \(label)", file: source) }
        let space = HDF5Handle(sid, .dataspace)
        if H5Sget_simple_extent_type(space.id) == H5S_NULL { return .empty }
        let points = H5Sget_simple_extent_npoints(space.id)
        guard points >= 0, let count = Int(exactly: points) else {
            throw HDF5Errors.failure("counting the elements of \(label)", file: source)
        }
        if count == 0 { return .empty }
        switch H5Tget_class(type.id) {
        case H5T_STRING:
            return .strings(try readStrings(attr, object: object, name: name, type: type, count: count, label: label))
        case H5T_INTEGER, H5T_FLOAT:
            guard let bytes = CheckedMath.multiply(count, 8), bytes <= HDF5File.maxAttributeBytes else {
                throw StoreError(.tooLarge, "\(label) declares \(count) numbers", file: source)
            }
            var values = [Double](repeating: 0, count: count)
            guard H5Aread(attr.id, chdf5_native_double(), &values) >= 0 else {
                throw HDF5Errors.failure("reading \(label)", file: source)
            }
            return .numbers(values)
        default:
            return .unsupported("type class \(H5Tget_class(type.id).rawValue)")
        }
    }

    private func readStrings(_ attr: HDF5Handle, object: HDF5Handle, name: String, type: HDF5Handle, count: Int,
                             label: String) throws -> [String] {
        let cset = H5Tget_cset(type.id)
        let mid = H5Tcopy(chdf5_c_s1())
        guard mid >= 0 else { throw HDF5Errors.failure("making a string type for \(label)", file: source) }
        let memType = HDF5Handle(mid, .datatype)
        if cset.rawValue >= H5T_CSET_ASCII.rawValue { _ = H5Tset_cset(mid, cset) }

        if H5Tis_variable_str(type.id) > 0 {
            guard count <= HDF5File.maxAttributeBytes / 8 else {
                throw StoreError(.tooLarge, "\(label) declares \(count) strings", file: source)
            }
            // libhdf5 trusts the stored descriptors; verify them against the global heaps first.
            var info = H5O_info_t()
            guard H5Oget_info2(object.id, &info, UInt32(H5O_INFO_BASIC)) >= 0, let address = Int(exactly: info.addr) else {
                throw HDF5Errors.failure("locating the object header of \(label)", file: source)
            }
            try vlenGuard.check(objectHeader: address, attribute: name, label: label)
            guard H5Tset_size(mid, chdf5_variable()) >= 0 else { throw HDF5Errors.failure("making a string type for \(label)", file: source) }
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard H5Aread(attr.id, memType.id, &pointers) >= 0 else {
                for p in pointers { if let p { H5free_memory(p) } }
                throw HDF5Errors.failure("reading \(label)", file: source)
            }
            defer { for p in pointers { if let p { H5free_memory(p) } } }
            var total = 0
            return try pointers.map { p in
                guard let p else { return "" }
                let s = String(cString: p)
                total += s.utf8.count
                guard total <= HDF5File.maxAttributeBytes else {
                    throw StoreError(.tooLarge, "\(label) holds more than \(HDF5File.maxAttributeBytes) bytes of text", file: source)
                }
                return s
            }
        }

        let size = H5Tget_size(type.id)
        guard size > 0, let total = CheckedMath.multiply(count, size), total <= HDF5File.maxAttributeBytes else {
            throw StoreError(.tooLarge, "\(label) declares \(count) strings of \(size) bytes", file: source)
        }
        let spacePadded = H5Tget_strpad(type.id) == H5T_STR_SPACEPAD
        guard H5Tset_size(mid, size) >= 0, H5Tset_strpad(mid, H5T_STR_NULLPAD) >= 0 else {
            throw HDF5Errors.failure("making a string type for \(label)", file: source)
        }
        var buf = [UInt8](repeating: 0, count: total)
        guard H5Aread(attr.id, memType.id, &buf) >= 0 else { throw HDF5Errors.failure("reading \(label)", file: source) }
        return (0..<count).map { i in
            var piece = buf[(i * size)..<((i + 1) * size)]
            if let nul = piece.firstIndex(of: 0) { piece = piece[..<nul] }
            if spacePadded { while piece.last == 0x20 { piece = piece.dropLast() } }
            return String(decoding: piece, as: UTF8.self)
        }
    }
}
