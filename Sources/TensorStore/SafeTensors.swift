import OrderedCollections

/// The safetensors format: an 8-byte little-endian header length, a JSON header, then the packed tensor bytes.
/// Reading maps the file and makes every tensor a zero-copy view; writing streams tensors one by one.
/// See Formats/safetensors.md for the rules enforced here.
public enum SafeTensors {
    /// Headers above this size are refused (the reference implementation's limit).
    public static let maxHeaderSize = 100_000_000

    /// True when the bytes look like a safetensors file: a plausible length followed by `{`.
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var r = ByteReader(bytes)
        guard let n = r.readLE(UInt64.self), n >= 2, n <= UInt64(maxHeaderSize), n <= UInt64(bytes.count - 8),
              r.peekByte() == UInt8(ascii: "{") else { return false }
        return true
    }

    /// Maps and validates a safetensors file.
    public static func read(path: String) throws -> TensorStore {
        let file = try MappedFile(path: path)
        do {
            return try read(mapped: file)
        } catch let e as StoreError {
            throw e.at(file: path)
        }
    }

    public static func read(mapped file: MappedFile) throws -> TensorStore {
        var r = ByteReader(file.bytes)
        guard let n64 = r.readLE(UInt64.self) else {
            throw StoreError(.truncated, "file is shorter than the 8-byte header length")
        }
        guard n64 <= UInt64(maxHeaderSize) else {
            throw StoreError(.tooLarge, "header length \(n64) exceeds the \(maxHeaderSize)-byte limit")
        }
        let n = Int(n64)
        guard let headerBytes = r.readSlice(n) else {
            throw StoreError(.truncated, "header length \(n) runs past the end of the file (\(file.count) bytes)")
        }
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw StoreError(.corrupt, "header does not start with '{'")
        }
        let header: JSONValue
        do {
            header = try JSONValue.parse(headerBytes, maxDepth: 8)
        } catch {
            throw StoreError(.corrupt, "header is not valid JSON (\(error))")
        }
        guard case let .object(items) = header else { throw StoreError(.corrupt, "header is not a JSON object") }
        let dataStart = 8 + n
        let dataCount = file.count - dataStart

        var metadata: OrderedDictionary<String, String> = [:]
        struct Entry { let name: String; let dtype: DType; let shape: [Int]; let begin: Int; let end: Int }
        var entries: [Entry] = []
        for (name, value) in items {
            if name == "__metadata__" {
                guard case let .object(meta) = value else { throw StoreError(.corrupt, "__metadata__ is not an object") }
                for (k, v) in meta {
                    guard let s = v.stringValue else {
                        throw StoreError(.corrupt, "__metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard let dtypeName = value["dtype"]?.stringValue else {
                throw StoreError(.corrupt, "missing dtype", tensor: name)
            }
            guard let dtype = DType(safetensorsName: dtypeName) else {
                throw StoreError(.unsupported, "unknown or unsupported dtype '\(dtypeName)'", tensor: name)
            }
            guard let shapeValues = value["shape"]?.arrayValue else {
                throw StoreError(.corrupt, "missing shape", tensor: name)
            }
            var shape: [Int] = []
            for d in shapeValues {
                guard let v = d.intValue, v >= 0 else { throw StoreError(.corrupt, "bad dimension \(d.serialized())", tensor: name) }
                shape.append(v)
            }
            guard let offsets = value["data_offsets"]?.arrayValue, offsets.count == 2,
                  let begin = offsets[0].intValue, let end = offsets[1].intValue, begin >= 0, end >= begin else {
                throw StoreError(.corrupt, "bad data_offsets", tensor: name)
            }
            guard let numel = CheckedMath.elementCount(shape), let bytes = CheckedMath.multiply(numel, dtype.size) else {
                throw StoreError(.outOfBounds, "shape \(shape) overflows", tensor: name)
            }
            guard end - begin == bytes else {
                throw StoreError(.corrupt, "data_offsets [\(begin), \(end)) hold \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(bytes)", tensor: name)
            }
            guard end <= dataCount else {
                throw StoreError(.truncated, "data_offsets end \(end) beyond the \(dataCount)-byte data section", tensor: name)
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        // Tensors must tile the data section exactly: sorted by offset, each starts where the previous ended.
        let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        for e in sorted {
            guard e.begin == cursor else {
                if e.begin < cursor {
                    throw StoreError(.corrupt, "data overlaps the previous tensor (begins at \(e.begin), previous ends at \(cursor))", tensor: e.name)
                }
                throw StoreError(.corrupt, "gap in the data section before this tensor (begins at \(e.begin), previous ends at \(cursor))", tensor: e.name)
            }
            cursor = e.end
        }
        guard cursor == dataCount else {
            throw StoreError(.corrupt, "data section has \(dataCount - cursor) bytes that no tensor covers")
        }
        var store = TensorStore()
        store.metadata = metadata
        for e in sorted {
            let storage = try Storage(mapped: file, range: (dataStart + e.begin)..<(dataStart + e.end))
            try store.insert(try Tensor(storage: storage, dtype: e.dtype, shape: e.shape), named: e.name)
        }
        return store
    }

    /// The header JSON and the tensor order for a store, with the header padded to a multiple of 8.
    /// Tensors keep the store's order (which is what a converter wants: the source file's order).
    public static func header(for store: TensorStore) -> [UInt8] {
        var items: [(String, JSONValue)] = []
        if !store.metadata.isEmpty {
            items.append(("__metadata__", .object(store.metadata.map { ($0.key, .string($0.value)) })))
        }
        var offset = 0
        for (name, t) in store.tensors {
            let end = offset + t.byteCount
            items.append((name, .object([
                ("dtype", .string(t.dtype.safetensorsName)),
                ("shape", .array(t.shape.map { .number(Double($0)) })),
                ("data_offsets", .array([.number(Double(offset)), .number(Double(end))])),
            ])))
            offset = end
        }
        var bytes = Array(JSONValue.object(items).serialized().utf8)
        while (bytes.count + 8) % 8 != 0 { bytes.append(0x20) }
        return bytes
    }

    /// Streams `store` into a safetensors file at `path`, atomically (temporary file + rename).
    /// `progress` is called with bytes written so far and the total.
    public static func write(_ store: TensorStore, to path: String, overwrite: Bool = false,
                             progress: ((Int, Int) -> Void)? = nil) throws {
        let writer = try AtomicFileWriter(path: path, overwrite: overwrite)
        let header = header(for: store)
        var len = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &len) { try writer.write($0) }
        try writer.write(header)
        let total = store.totalBytes
        var done = 0
        let chunk = 16 << 20
        for (name, t) in store.tensors {
            if let bytes = t.contiguousBytes, bytes.count > 0,
               let region = t.storage.fileLocation(ofByte: bytes.baseAddress! - t.storage.bytes.baseAddress!) {
                // A contiguous view of a mapped file: copy kernel-side, in chunks for progress.
                var off = 0
                while off < bytes.count {
                    let n = min(chunk, bytes.count - off)
                    try writer.copy(fromDescriptor: region.descriptor, offset: region.offset + off, count: n)
                    off += n
                    done += n
                    progress?(done, total)
                }
            } else {
                do {
                    try t.withContiguousBytes { try writer.write($0) }
                } catch let e as StoreError {
                    throw e.at(tensor: name)
                }
                done += t.byteCount
                progress?(done, total)
            }
        }
        try writer.commit()
    }
}
