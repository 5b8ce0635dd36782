import TensorStore

/// A torch storage named by a persistent id (zip record, legacy stream key) or by a nested stream. Its bytes
/// may arrive after the pickle that names it (legacy streams store raw data after the pickles), so tensors keep
/// a reference and are materialised once every storage is resolved.
final class StorageRef {
    let key: String
    /// Element type of a typed storage; nil for `UntypedStorage`, whose size counts bytes.
    let dtype: DType?
    /// Declared size: elements for typed storages, bytes for untyped ones.
    let numel: Int
    /// Declared size in bytes (overflow-checked when the reference is made).
    let byteCount: Int
    /// The bytes, once known.
    var data: Storage?
    var byteOrder: ByteOrder = .little
    /// Old legacy files: this storage is `[offset, offset+size)` (elements) of another storage.
    var viewOf: (root: StorageRef, offset: Int, size: Int)?

    init(key: String, dtype: DType?, numel: Int) throws {
        guard numel >= 0, let bytes = CheckedMath.multiply(numel, dtype?.size ?? 1) else {
            throw StoreError(.outOfBounds, "storage '\(key)' declares \(numel) elements, which overflows")
        }
        self.key = key
        self.dtype = dtype
        self.numel = numel
        self.byteCount = bytes
    }

    /// The bytes of this storage, slicing the root storage for views.
    func resolved() throws -> Storage {
        if let data { return data }
        if let (root, offset, size) = viewOf {
            let rootData = try root.resolved()
            let elem = dtype?.size ?? 1
            guard let lo = CheckedMath.multiply(offset, elem), let len = CheckedMath.multiply(size, elem),
                  let hi = CheckedMath.add(lo, len), hi <= rootData.count else {
                throw StoreError(.outOfBounds, "storage view '\(key)' (offset \(offset), size \(size)) lies outside storage '\(root.key)'")
            }
            let s = try StorageSlicer.slice(rootData, lo..<hi, alignment: elem)
            byteOrder = root.byteOrder
            data = s
            return s
        }
        throw StoreError(.corrupt, "storage '\(key)' is referenced but its data never appears")
    }
}

/// A tensor as a view description over a storage, made by an allowlisted rebuild path.
final class TensorBox {
    let storage: StorageRef
    let dtype: DType
    let shape: [Int]
    let strides: [Int]
    let offset: Int
    /// Where the tensor was built (stream label and byte offset), for messages.
    let location: String
    private var cached: Tensor?

    init(storage: StorageRef, dtype: DType, shape: [Int], strides: [Int], offset: Int, location: String) {
        self.storage = storage
        self.dtype = dtype
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.location = location
    }

    /// The validated tensor (every reachable element inside the storage, overflow-checked).
    func materialize() throws -> Tensor {
        if let cached { return cached }
        let data = try storage.resolved()
        if let sd = storage.dtype, sd != dtype {
            throw StoreError(.corrupt, "tensor of \(dtype.displayName) views a \(sd.displayName) storage '\(storage.key)'")
        }
        let t = try Tensor(storage: data, dtype: dtype, shape: shape, strides: strides, offset: offset,
                           byteOrder: dtype.size == 1 ? .little : storage.byteOrder)
        cached = t
        return t
    }
}

/// Byte ranges of storages as new storages: zero-copy for mapped memory at an address aligned for the element
/// type, a copy otherwise (so the engine can load elements directly).
enum StorageSlicer {
    static func slice(_ source: Storage, _ range: Range<Int>, alignment: Int) throws -> Storage {
        guard range.lowerBound >= 0, range.upperBound <= source.count else {
            throw StoreError(.outOfBounds, "byte range \(range) lies outside a \(source.count)-byte buffer")
        }
        if range.lowerBound == 0 && range.upperBound == source.count && isAligned(source, 0, alignment) { return source }
        if case let .mapped(file, base) = source.backing, isAligned(source, range.lowerBound, alignment) {
            return try Storage(mapped: file, range: (base + range.lowerBound)..<(base + range.upperBound))
        }
        if range.isEmpty { return Storage(byteCount: 0) }
        return Storage(copying: UnsafeRawBufferPointer(rebasing: source.bytes[range]))
    }

    static func isAligned(_ s: Storage, _ offset: Int, _ alignment: Int) -> Bool {
        guard alignment > 1, let base = s.bytes.baseAddress else { return true }
        return (Int(bitPattern: base) + offset) % alignment == 0
    }
}
