import CHDF5
import TensorStore

/// An HDF5 file opened read-only through libhdf5, either from disk or from an in-memory image (a `.keras`
/// member). Paths are relative to the root and use `/` (`model_weights/dense/dense/kernel:0`); only hard links
/// are followed, so soft and external links can never lead outside the file.
final class HDF5File {
    /// The file name used in error messages.
    let source: String
    let handle: HDF5Handle
    /// Keeps the bytes the guard reads alive (the mapping or the in-memory image).
    private let owner: AnyObject
    /// Checks variable-length string descriptors against the validated global heaps before libhdf5 reads them.
    let vlenGuard: HDF5VlenAttributeGuard

    /// Limits on walking the object graph of a hostile file.
    static let maxDepth = 64
    static let maxObjects = 1 << 20

    init(path: String) throws {
        HDF5Errors.silence()
        source = path
        let mapped = try MappedFile(path: path)
        owner = mapped
        vlenGuard = HDF5VlenAttributeGuard(bytes: mapped.bytes, source: path,
                                           heaps: try HDF5GlobalHeapCheck.validate(mapped.bytes, source: path))
        let fapl = try HDF5File.strongCloseAccessList(source: path)
        let id = H5Fopen(path, chdf5_acc_rdonly(), fapl.id)
        guard id >= 0 else { throw HDF5Errors.failure("opening the file", file: path) }
        handle = HDF5Handle(id, .file)
    }

    /// Opens an HDF5 image held in memory (the core driver copies it; nothing touches the disk).
    init(image storage: Storage, source: String) throws {
        HDF5Errors.silence()
        self.source = source
        let image = storage.bytes
        guard let base = image.baseAddress, image.count > 0 else {
            throw StoreError(.truncated, "HDF5 image is empty", file: source)
        }
        owner = storage
        vlenGuard = HDF5VlenAttributeGuard(bytes: image, source: source,
                                           heaps: try HDF5GlobalHeapCheck.validate(image, source: source))
        let fapl = try HDF5File.strongCloseAccessList(source: source)
        guard H5Pset_fapl_core(fapl.id, 1 << 16, false) >= 0,
              H5Pset_file_image(fapl.id, UnsafeMutableRawPointer(mutating: base), image.count) >= 0 else {
            throw HDF5Errors.failure("setting up the in-memory file image", file: source)
        }
        // The core driver identifies open files by name; a unique name keeps concurrent opens apart.
        let name = "\(source)#image-\(UInt64.random(in: 0...UInt64.max))"
        let id = H5Fopen(name, chdf5_acc_rdonly(), fapl.id)
        guard id >= 0 else { throw HDF5Errors.failure("opening the in-memory HDF5 image", file: source) }
        handle = HDF5Handle(id, .file)
    }

    private static func strongCloseAccessList(source: String) throws -> HDF5Handle {
        let fapl = H5Pcreate(chdf5_p_file_access())
        guard fapl >= 0 else { throw HDF5Errors.failure("creating a file access list", file: source) }
        let list = HDF5Handle(fapl, .propertyList)
        _ = H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG)
        return list
    }

    // MARK: Objects

    enum ObjectType: Equatable { case group, dataset, other }

    /// The type of the object at `path` ("" is the root), or nil when a component is missing or not a hard
    /// link to an object.
    func objectType(_ path: String) -> ObjectType? {
        HDF5Errors.silence()
        if path.isEmpty { return .group }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        var prefix = ""
        for p in parts {
            prefix += prefix.isEmpty ? String(p) : "/" + p
            guard H5Lexists(handle.id, prefix, hid_t(H5P_DEFAULT)) > 0 else {
                _ = HDF5Errors.drainMessages()
                return nil
            }
        }
        var info = H5O_info_t()
        guard H5Oget_info_by_name2(handle.id, path, &info, UInt32(H5O_INFO_BASIC), hid_t(H5P_DEFAULT)) >= 0 else {
            _ = HDF5Errors.drainMessages()
            return nil
        }
        switch info.type {
        case H5O_TYPE_GROUP: return .group
        case H5O_TYPE_DATASET: return .dataset
        default: return .other
        }
    }

    func openGroup(_ path: String) throws -> HDF5Handle {
        HDF5Errors.silence()
        let id = H5Gopen2(handle.id, path.isEmpty ? "/" : path, hid_t(H5P_DEFAULT))
        guard id >= 0 else { throw HDF5Errors.failure("opening group '/\(path)'", file: source) }
        return HDF5Handle(id, .group, parent: handle)
    }

    /// The object (group or dataset) at `path`, for reading its attributes.
    func openObject(_ path: String) throws -> HDF5Handle {
        HDF5Errors.silence()
        let id = H5Oopen(handle.id, path.isEmpty ? "/" : path, hid_t(H5P_DEFAULT))
        guard id >= 0 else { throw HDF5Errors.failure("opening object '/\(path)'", file: source) }
        let kind: HDF5Handle.Kind = H5Iget_type(id) == H5I_DATASET ? .dataset : .group
        return HDF5Handle(id, kind, parent: handle)
    }

    struct Child { var name: String; var type: ObjectType; var address: haddr_t }

    /// The hard-linked members of a group, in natural name order (`vars/2` before `vars/10`).
    func children(of path: String) throws -> [Child] {
        let group = try openGroup(path)
        var ginfo = H5G_info_t()
        guard H5Gget_info(group.id, &ginfo) >= 0 else { throw HDF5Errors.failure("listing group '/\(path)'", file: source) }
        guard ginfo.nlinks <= hsize_t(HDF5File.maxObjects) else {
            throw StoreError(.tooLarge, "HDF5 group '/\(path)' declares \(ginfo.nlinks) members", file: source)
        }
        var out: [Child] = []
        for i in 0..<ginfo.nlinks {
            let len = H5Lget_name_by_idx(group.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, hid_t(H5P_DEFAULT))
            guard len >= 0, len < 1 << 16 else { throw HDF5Errors.failure("reading a member name of '/\(path)'", file: source) }
            var buf = [CChar](repeating: 0, count: Int(len) + 1)
            guard H5Lget_name_by_idx(group.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, buf.count, hid_t(H5P_DEFAULT)) >= 0 else {
                throw HDF5Errors.failure("reading a member name of '/\(path)'", file: source)
            }
            let name = String(decoding: buf.prefix(Int(len)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            var linfo = H5L_info_t()
            guard H5Lget_info_by_idx(group.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, &linfo, hid_t(H5P_DEFAULT)) >= 0 else {
                throw HDF5Errors.failure("reading link '\(name)' of '/\(path)'", file: source)
            }
            guard linfo.type == H5L_TYPE_HARD else { continue }  // soft / external links are never followed
            var oinfo = H5O_info_t()
            guard H5Oget_info_by_name2(group.id, name, &oinfo, UInt32(H5O_INFO_BASIC), hid_t(H5P_DEFAULT)) >= 0 else {
                throw HDF5Errors.failure("reading object '/\(HDF5File.join(path, name))'", file: source)
            }
            let type: ObjectType = oinfo.type == H5O_TYPE_GROUP ? .group : oinfo.type == H5O_TYPE_DATASET ? .dataset : .other
            out.append(Child(name: name, type: type, address: oinfo.addr))
        }
        return out.sorted { NaturalOrder.less($0.name, $1.name) }
    }

    /// Every dataset under `path`, depth first in natural name order, each object visited once (hard links
    /// may form cycles or reach one object twice).
    func datasetPaths(under path: String = "") throws -> [String] {
        var seen = Set<haddr_t>()
        var out: [String] = []
        var count = 0
        func visit(_ p: String, depth: Int) throws {
            guard depth <= HDF5File.maxDepth else {
                throw StoreError(.tooLarge, "HDF5 groups nest deeper than \(HDF5File.maxDepth) levels at '/\(p)'", file: source)
            }
            for c in try children(of: p) {
                count += 1
                guard count <= HDF5File.maxObjects else {
                    throw StoreError(.tooLarge, "HDF5 file holds more than \(HDF5File.maxObjects) objects", file: source)
                }
                guard seen.insert(c.address).inserted else { continue }
                let full = HDF5File.join(p, c.name)
                switch c.type {
                case .dataset: out.append(full)
                case .group: try visit(full, depth: depth + 1)
                case .other: break
                }
            }
        }
        try visit(path, depth: 0)
        return out
    }

    static func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : a + "/" + b }
}

/// Orders names with digit runs compared as numbers, so `vars/2` sorts before `vars/10`.
enum NaturalOrder {
    static func less(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var i = 0, j = 0
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        while i < x.count && j < y.count {
            if isDigit(x[i]) && isDigit(y[j]) {
                var ie = i, je = j
                while ie < x.count && isDigit(x[ie]) { ie += 1 }
                while je < y.count && isDigit(y[je]) { je += 1 }
                // Compare digit runs without leading zeros by length, then lexically.
                let xs = x[i..<ie].drop { $0 == 0x30 }, ys = y[j..<je].drop { $0 == 0x30 }
                if xs.count != ys.count { return xs.count < ys.count }
                if !xs.elementsEqual(ys) { return xs.lexicographicallyPrecedes(ys) }
                if ie - i != je - j { return ie - i < je - j }
                i = ie; j = je
            } else {
                if x[i] != y[j] { return x[i] < y[j] }
                i += 1; j += 1
            }
        }
        return x.count - i < y.count - j
    }
}
