import TensorStore

/// The legacy torch stream (torch 0.1.10 – 1.5, `_use_new_zipfile_serialization=False`, and every nested
/// `torch.storage._load_from_bytes` blob): magic, protocol 1001, sys_info, the main pickle, the storage key
/// list, then each storage as an i64 element count and raw bytes. See Formats/torch-legacy.md.
enum TorchLegacyStream {
    /// The LONG1 payload of 0x1950a86a20f9469cfc6c.
    static let magic: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]
    static let protocolVersion = 1001

    /// True when `bytes` begin with the literal magic pickle `80 0? 8a 0a <magic> 2e`.
    static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 15, bytes[0] == 0x80, bytes[1] <= 5, bytes[2] == 0x8a, bytes[3] == 0x0a, bytes[14] == 0x2e else { return false }
        for i in 0..<10 where bytes[4 + i] != magic[i] { return false }
        return true
    }

    /// Storages declared by persistent ids, by key, with their old-style views.
    private final class Declared {
        var roots: [String: StorageRef] = [:]
        var views: [String: StorageRef] = [:]
    }

    /// Reads a stream that occupies `range` of `source`. Returns the main pickle's value (with every storage
    /// resolved) and the offset just past the last storage.
    static func read(source: Storage, range: Range<Int>, label: String, context: PickleContext) throws -> (PickleValue, Int) {
        let bytes = UnsafeRawBufferPointer(rebasing: source.bytes[range])
        func fail(_ code: StoreError.Code, _ m: String) -> StoreError { StoreError(code, "legacy torch stream \(label): \(m)") }
        if !context.scanOnly {
            guard bytes.count >= 15 else { throw fail(.truncated, "too short for the magic number") }
            guard hasMagic(bytes) else {
                throw fail(.corrupt, "the first pickle is not the literal magic number 0x1950a86a20f9469cfc6c")
            }
        }
        var pos = range.lowerBound + (context.scanOnly ? 0 : 15)
        func next(_ what: String, _ load: PickleMachine.PersistentLoad? = nil) throws -> PickleValue {
            var m = PickleMachine(source: source, range: pos..<range.upperBound, label: "legacy \(label) (\(what))", context: context, persistentLoad: load)
            let v = try m.run()
            pos = m.pos
            return v
        }
        if context.scanOnly {
            _ = try next("magic")
        }
        let version = try next("protocol version")
        if !context.scanOnly {
            guard case let .int(v) = version, v == protocolVersion else {
                throw fail(.corrupt, "protocol version is \(describe(version)), not the integer \(protocolVersion)")
            }
        }
        let sysInfo = try next("sys_info")
        var byteOrder = ByteOrder.little
        if !context.scanOnly {
            guard case let .dict(info) = sysInfo else { throw fail(.corrupt, "sys_info is a \(sysInfo.typeName), not a dict") }
            if case let .bool(little)? = info["little_endian"], !little { byteOrder = .big }
        }

        let declared = Declared()
        let root = try next("main pickle") { pid, location in
            if context.scanOnly { return .none }
            return try persistent(pid, declared: declared, location: location)
        }
        let keysValue = try next("storage keys")
        if context.scanOnly { return (root, pos) }
        guard let keyItems = keysValue.sequence else { throw fail(.corrupt, "the storage key list is a \(keysValue.typeName)") }

        var seen = Set<String>()
        for item in keyItems {
            let key: String
            switch item {
            case let .string(s): key = s
            case let .int(i): key = String(i)
            default: throw fail(.corrupt, "a storage key is a \(item.typeName)")
            }
            guard seen.insert(key).inserted else { throw fail(.corrupt, "storage key '\(key)' is listed twice") }
            guard let ref = declared.roots[key] else {
                throw fail(.corrupt, "storage key '\(key)' is listed but no persistent id declares it")
            }
            guard range.upperBound - pos >= 8 else { throw fail(.truncated, "the element count of storage '\(key)' is cut short") }
            let count = Int64(littleEndian: source.bytes.loadUnaligned(fromByteOffset: pos, as: Int64.self))
            guard count == Int64(ref.numel) else {
                throw fail(.corrupt, "storage '\(key)' holds \(count) elements but its persistent id declares \(ref.numel)")
            }
            let start = pos + 8
            guard ref.byteCount <= range.upperBound - start else {
                throw fail(.truncated, "storage '\(key)' needs \(ref.byteCount) bytes at offset \(start - range.lowerBound) but only \(range.upperBound - start) remain")
            }
            let b = PickleBytes(owner: source, range: start..<(start + ref.byteCount))
            ref.data = try context.slice(b, alignment: ref.dtype?.size ?? 1)
            ref.byteOrder = byteOrder
            pos = start + ref.byteCount
        }
        return (root, pos)
    }

    private static func describe(_ v: PickleValue) -> String {
        switch v {
        case let .string(s): return "the string '\(s.prefix(20))'"
        case let .int(i): return "\(i)"
        default: return "a \(v.typeName)"
        }
    }

    /// A legacy persistent id: `('storage', StorageType, key, location, numel, view_metadata)`, or
    /// `('module', cls, source_file, source)` for whole-model saves.
    private static func persistent(_ pid: PickleValue, declared: Declared, location: String) throws -> PickleValue {
        func fail(_ m: String) -> StoreError { StoreError(.corrupt, "\(location): \(m)") }
        guard let items = pid.sequence, let tag = items.first?.stringValue else {
            throw fail("unsupported persistent id (a \(pid.typeName))")
        }
        if tag == "module" {
            guard items.count >= 2 else { throw fail("module persistent id without a class") }
            return items[1]
        }
        guard tag == "storage" else { throw fail("unsupported persistent id tag '\(tag.prefix(40))'") }
        guard items.count >= 5 else { throw fail("storage persistent id has \(items.count) fields") }
        let dtype = try storageDType(items[1], location: location)
        let key: String
        switch items[2] {
        case let .string(s): key = s
        case let .int(i): key = String(i)
        default: throw fail("storage key is a \(items[2].typeName)")
        }
        guard let numel = items[4].intValue, numel >= 0 else { throw fail("storage '\(key)' numel is \(items[4].typeName)") }
        let root: StorageRef
        if let existing = declared.roots[key] {
            guard existing.dtype == dtype, existing.numel == numel else {
                throw fail("storage '\(key)' is declared twice with different types or sizes")
            }
            root = existing
        } else {
            root = try StorageRef(key: key, dtype: dtype, numel: numel)
            declared.roots[key] = root
        }
        if items.count >= 6, let view = items[5].sequence {
            guard view.count == 3, let viewKey = view[0].stringValue ?? view[0].intValue.map(String.init),
                  let offset = view[1].intValue, let size = view[2].intValue, offset >= 0, size >= 0 else {
                throw fail("storage '\(key)' has malformed view metadata")
            }
            if let v = declared.views[viewKey] { return .storage(v) }
            let v = try StorageRef(key: viewKey, dtype: dtype, numel: size)
            v.viewOf = (root, offset, size)
            declared.views[viewKey] = v
            return .storage(v)
        }
        return .storage(root)
    }

    /// The element type a storage class names (`torch.FloatStorage`, …).
    static func storageDType(_ v: PickleValue, location: String) throws -> DType? {
        guard case let .global(g) = v, case let .torchStorage(dt)? = GlobalPolicy.meaning(of: g) else {
            throw StoreError(.corrupt, "\(location): storage type is a \(v.typeName), not a torch storage class")
        }
        return dt
    }

    /// `torch.storage._load_from_bytes(b)`: `b` is a complete legacy stream holding one storage. Parsed
    /// recursively under the same policy and budget; a blob shared through the memo parses once.
    static func nested(_ b: PickleBytes, context: PickleContext, location: String) throws -> PickleValue {
        let key = PickleContext.NestedKey(address: Int(bitPattern: b.bytes.baseAddress), count: b.count)
        if let cached = context.nestedCache[key] { return cached }
        guard context.nestingDepth < context.budget.maxNestingDepth else {
            throw StoreError(.tooLarge, "\(location): _load_from_bytes streams nest deeper than \(context.budget.maxNestingDepth)")
        }
        context.budget.nestedStreams += 1
        guard context.budget.nestedStreams <= context.budget.maxNestedStreams else {
            throw StoreError(.tooLarge, "\(location): more than \(context.budget.maxNestedStreams) nested _load_from_bytes streams")
        }
        context.nestingDepth += 1
        defer { context.nestingDepth -= 1 }
        let label = "blob at \(location)"
        if context.scanOnly {
            // Scanning: list what the blob references, never refuse, tolerate damage.
            _ = try? read(source: b.owner, range: b.range, label: label, context: context)
            context.nestedCache[key] = PickleValue.none
            return .none
        }
        let (root, _) = try read(source: b.owner, range: b.range, label: label, context: context)
        guard case .storage = root else {
            throw StoreError(.corrupt, "\(label): a _load_from_bytes stream must hold a storage, not a \(root.typeName)")
        }
        context.nestedCache[key] = root
        return root
    }
}
