import TensorStore

/// The members of a ustar archive, as byte ranges of the mapped file (no extraction, names never used as paths).
enum TarArchive {
    struct Member {
        var name: String
        var range: Range<Int>
    }

    static func members(_ bytes: UnsafeRawBufferPointer) throws -> [Member] {
        var out: [Member] = []
        var pos = 0
        while pos + 512 <= bytes.count {
            let header = UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + 512)])
            if header.allSatisfy({ $0 == 0 }) { break }
            let nameBytes = header[0..<100].prefix { $0 != 0 }
            var name = String(decoding: nameBytes, as: UTF8.self)
            if name.hasPrefix("./") { name.removeFirst(2) }
            let sizeText = String(decoding: header[124..<136].prefix { $0 != 0 && $0 != 0x20 }, as: UTF8.self)
            guard let size = Int(sizeText.isEmpty ? "0" : sizeText, radix: 8), size >= 0 else {
                throw StoreError(.corrupt, "tar member '\(name.prefix(40))' has a bad size field")
            }
            let start = pos + 512
            guard size <= bytes.count - start else {
                throw StoreError(.truncated, "tar member '\(name.prefix(40))' (\(size) bytes) runs past the end of the file")
            }
            let type = header[156]
            if type == 0 || type == UInt8(ascii: "0") { out.append(Member(name: name, range: start..<(start + size))) }
            guard out.count <= 10_000 else { throw StoreError(.tooLarge, "tar archive has more than 10000 members") }
            pos = start + (size + 511) / 512 * 512
        }
        return out
    }
}

/// The torch ≤ 0.1.x tar container: members `sys_info`, `storages`, `tensors`, `pickle`, whose persistent ids
/// are integer keys of the storages and tensors listed in the other members. See Formats/torch-legacy.md.
enum TorchTarContainer {
    static func read(file: MappedFile, context: PickleContext) throws -> PickleValue {
        let members = try TarArchive.members(file.bytes)
        func member(_ n: String) throws -> Range<Int> {
            guard let m = members.first(where: { $0.name == n }) else { throw StoreError(.corrupt, "torch tar archive has no '\(n)' member") }
            return m.range
        }
        let source = try Storage(mapped: file, range: 0..<file.count)
        var pos = 0
        func next(_ range: Range<Int>, _ label: String) throws -> PickleValue {
            var m = PickleMachine(source: source, range: pos..<range.upperBound, label: label, context: context)
            let v = try m.run()
            pos = m.pos
            return v
        }
        func i64(_ range: Range<Int>, _ what: String) throws -> Int {
            guard range.upperBound - pos >= 8 else { throw StoreError(.truncated, "tar '\(what)' is cut short") }
            let v = Int(Int64(littleEndian: source.bytes.loadUnaligned(fromByteOffset: pos, as: Int64.self)))
            pos += 8
            return v
        }

        let sysRange = try member("sys_info")
        pos = sysRange.lowerBound
        var byteOrder = ByteOrder.little
        if case let .dict(info) = try next(sysRange, "sys_info"), case let .bool(little)? = info["little_endian"], !little { byteOrder = .big }

        // storages: count, then per storage (key, location, type), i64 numel, raw bytes; then the views list.
        var objects: [Int: PickleValue] = [:]
        let stRange = try member("storages")
        pos = stRange.lowerBound
        guard let count = try next(stRange, "storages").intValue, count >= 0, count <= 1_000_000 else {
            throw StoreError(.corrupt, "torch tar 'storages' count is not a small integer")
        }
        for _ in 0..<count {
            guard let rec = try next(stRange, "storages").sequence, rec.count == 3, let key = rec[0].intValue else {
                throw StoreError(.corrupt, "torch tar storage record is not (key, location, type)")
            }
            let dtype = try TorchLegacyStream.storageDType(rec[2], location: "tar storages")
            let numel = try i64(stRange, "storages")
            let ref = try StorageRef(key: String(key), dtype: dtype, numel: numel)
            guard ref.byteCount <= stRange.upperBound - pos else { throw StoreError(.truncated, "tar storage \(key) runs past its member") }
            ref.data = try context.slice(PickleBytes(owner: source, range: pos..<(pos + ref.byteCount)), alignment: dtype?.size ?? 1)
            ref.byteOrder = byteOrder
            pos += ref.byteCount
            objects[key] = .storage(ref)
        }
        if let views = try? next(stRange, "storage views").sequence {
            for v in views {
                guard let f = v.sequence, f.count == 4, let target = f[0].intValue, let rootKey = f[1].intValue,
                      let offset = f[2].intValue, let size = f[3].intValue, case let .storage(root)? = objects[rootKey] else {
                    throw StoreError(.corrupt, "torch tar storage view is malformed")
                }
                let view = try StorageRef(key: String(target), dtype: root.dtype, numel: size)
                view.viewOf = (root, offset, size)
                objects[target] = .storage(view)
            }
        }

        // tensors: count, then per tensor (key, storage_id, type), i32 ndim + 4 pad, sizes, strides, offset.
        let tRange = try member("tensors")
        pos = tRange.lowerBound
        guard let tcount = try next(tRange, "tensors").intValue, tcount >= 0, tcount <= 1_000_000 else {
            throw StoreError(.corrupt, "torch tar 'tensors' count is not a small integer")
        }
        for _ in 0..<tcount {
            guard let rec = try next(tRange, "tensors").sequence, rec.count >= 2, let key = rec[0].intValue, let sid = rec[1].intValue,
                  case let .storage(ref)? = objects[sid], let dtype = ref.dtype else {
                throw StoreError(.corrupt, "torch tar tensor record names no typed storage")
            }
            let ndim = try i64(tRange, "tensors") & 0xffff_ffff
            guard ndim <= 64 else { throw StoreError(.corrupt, "torch tar tensor has \(ndim) dimensions") }
            var shape: [Int] = [], strides: [Int] = []
            for _ in 0..<ndim { shape.append(try i64(tRange, "tensors")) }
            for _ in 0..<ndim { strides.append(try i64(tRange, "tensors")) }
            let offset = try i64(tRange, "tensors")
            objects[key] = .tensor(TensorBox(storage: ref, dtype: dtype, shape: shape, strides: strides, offset: offset, location: "tar tensor \(key)"))
        }

        let pRange = try member("pickle")
        var m = PickleMachine(source: source, range: pRange, label: "pickle", context: context) { pid, location in
            if case let .tuple(t) = pid, let first = t.items.first { return first }  // module source record → the class
            guard let id = pid.intValue ?? pid.stringValue.flatMap({ Int($0) }), let obj = objects[id] else {
                throw StoreError(.corrupt, "\(location): persistent id names no storage or tensor of the archive")
            }
            return obj
        }
        return try m.run()
    }
}
