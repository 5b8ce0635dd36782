import TensorStore

/// The torch zip container (torch ≥ 1.6): `<root>/data.pkl` whose persistent ids
/// `('storage', StorageType, key, location, numel)` name records `<root>/data/<key>`. Stored records become
/// zero-copy views of the mapped file. See Formats/torch-zip.md.
enum TorchZipContainer {
    /// Compressed storage records are a zip-bomb signal (torch never compresses): accepted only when small or
    /// at a plausible ratio, and always under the caller's inflation cap.
    static let compressedRecordFreeBytes = 16 << 20
    static let compressedRecordMaxRatio = 100

    /// The `data.pkl` member: the one at `data.pkl` or `<any root>/data.pkl`.
    static func pickleEntry(_ zip: ZipArchive) throws -> ZipArchive.Entry {
        let candidates = zip.entries.filter { e in
            guard e.name.hasSuffix("data.pkl") else { return false }
            let parts = e.name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.last == "data.pkl" && parts.count <= 2
        }
        guard let first = candidates.first else {
            throw StoreError(.corrupt, "torch zip has no data.pkl member", file: zip.file.path)
        }
        guard candidates.count == 1 else {
            throw StoreError(.corrupt, "torch zip has several data.pkl members (\(candidates.map(\.name).joined(separator: ", ")))", file: zip.file.path)
        }
        return first
    }

    static func rootPrefix(of entry: ZipArchive.Entry) -> String {
        String(entry.name.dropLast("data.pkl".count))
    }

    /// Reads `data.pkl` and resolves its storages. Returns the pickle's root value.
    static func read(zip: ZipArchive, context: PickleContext) throws -> PickleValue {
        let pkl = try pickleEntry(zip)
        let root = rootPrefix(of: pkl)
        var byteOrder = ByteOrder.little
        if let bo = zip.entry(root + "byteorder") {
            guard bo.uncompressedSize <= 64 else { throw StoreError(.corrupt, "byteorder record is \(bo.uncompressedSize) bytes") }
            let text = String(decoding: try zip.data(for: bo, maxInflatedBytes: 64).bytes, as: UTF8.self).trimmingSpaces
            switch text.trimmingCharacters(in: "\n") {
            case "little": byteOrder = .little
            case "big": byteOrder = .big
            default: throw StoreError(.corrupt, "byteorder record says '\(text.prefix(20))', not little or big")
            }
        }
        let source = try zip.data(for: pkl, maxInflatedBytes: min(context.maxInflatedBytes, 1 << 30))
        var storages: [String: StorageRef] = [:]
        var machine = PickleMachine(source: source, label: pkl.name, context: context) { pid, location in
            if context.scanOnly { return .none }
            return try storage(pid, zip: zip, root: root, byteOrder: byteOrder, storages: &storages, context: context, location: location)
        }
        return try machine.run()
    }

    private static func storage(_ pid: PickleValue, zip: ZipArchive, root: String, byteOrder: ByteOrder,
                                storages: inout [String: StorageRef], context: PickleContext, location: String) throws -> PickleValue {
        func fail(_ code: StoreError.Code, _ m: String) -> StoreError { StoreError(code, "\(location): \(m)") }
        guard let items = pid.sequence, let tag = items.first?.stringValue else {
            throw fail(.corrupt, "unsupported persistent id (a \(pid.typeName))")
        }
        guard tag == "storage" else { throw fail(.corrupt, "unsupported persistent id tag '\(tag.prefix(40))'") }
        guard items.count >= 5 else { throw fail(.corrupt, "storage persistent id has \(items.count) fields") }
        let dtype = try TorchLegacyStream.storageDType(items[1], location: location)
        guard let key = items[2].stringValue ?? items[2].intValue.map(String.init) else {
            throw fail(.corrupt, "storage key is a \(items[2].typeName)")
        }
        guard let numel = items[4].intValue, numel >= 0 else { throw fail(.corrupt, "storage '\(key)' numel is not a count") }
        if let existing = storages[key] {
            guard existing.dtype == dtype, existing.numel == numel else {
                throw fail(.corrupt, "storage '\(key)' is declared twice with different types or sizes")
            }
            return .storage(existing)
        }
        let ref = try StorageRef(key: key, dtype: dtype, numel: numel)
        let name = root + "data/" + key
        guard let entry = zip.entry(name) else { throw fail(.notFound, "storage record '\(name)' is missing") }
        guard entry.uncompressedSize == ref.byteCount else {
            throw fail(.corrupt, "storage record '\(name)' holds \(entry.uncompressedSize) bytes but its persistent id declares \(numel) × \(dtype?.size ?? 1) = \(ref.byteCount)")
        }
        if !entry.isStored {
            let ratioOK = entry.uncompressedSize / max(entry.compressedSize, 1) <= compressedRecordMaxRatio
            guard entry.uncompressedSize <= compressedRecordFreeBytes || ratioOK else {
                throw fail(.tooLarge, "compressed storage record '\(name)' inflates \(entry.compressedSize) bytes to \(entry.uncompressedSize) (torch never compresses records; refused as a zip bomb)")
            }
            try context.budget.allocate(entry.uncompressedSize, "inflating '\(name)'")
        }
        var data = try zip.storage(for: entry, maxInflatedBytes: context.maxInflatedBytes)
        let align = dtype?.size ?? 1
        if !StorageSlicer.isAligned(data, 0, align) {
            try context.budget.allocate(data.count, "a copy of misaligned record '\(name)'")
            data = Storage(copying: data.bytes)
        }
        ref.data = data
        ref.byteOrder = byteOrder
        storages[key] = ref
        return .storage(ref)
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
