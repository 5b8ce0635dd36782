/// A typed, strided view over a `Storage`. Strides and offset count elements, as in PyTorch.
/// This is the one tensor type of the project: readers produce it, the engine computes on contiguous Float32
/// instances of it, writers consume it.
public struct Tensor: @unchecked Sendable {
    public let dtype: DType
    public let shape: [Int]
    public let strides: [Int]
    public let offset: Int
    public let storage: Storage
    public let byteOrder: ByteOrder

    /// A view, validated: every reachable element must lie inside the storage, with overflow-safe arithmetic.
    public init(storage: Storage, dtype: DType, shape: [Int], strides: [Int]? = nil, offset: Int = 0,
                byteOrder: ByteOrder = .little) throws {
        let strides = strides ?? Tensor.contiguousStrides(shape)
        guard strides.count == shape.count else {
            throw StoreError(.corrupt, "shape \(shape) and strides \(strides) differ in rank")
        }
        guard offset >= 0, shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
            throw StoreError(.outOfBounds, "negative size, stride or offset (shape \(shape), strides \(strides), offset \(offset))")
        }
        guard let numel = CheckedMath.elementCount(shape) else {
            throw StoreError(.outOfBounds, "shape \(shape) has more elements than can be addressed")
        }
        if numel > 0 {
            // Largest reachable element index: offset + Σ (size-1)·stride.
            var last = offset
            for (d, s) in zip(shape, strides) {
                guard let span = CheckedMath.multiply(d - 1, s), let next = CheckedMath.add(last, span) else {
                    throw StoreError(.outOfBounds, "size \(shape) with stride \(strides) overflows")
                }
                last = next
            }
            guard let endElement = CheckedMath.add(last, 1),
                  let endByte = CheckedMath.multiply(endElement, dtype.size) else {
                throw StoreError(.outOfBounds, "extent of shape \(shape), strides \(strides) overflows")
            }
            guard endByte <= storage.count else {
                throw StoreError(.outOfBounds,
                                 "view (shape \(shape), strides \(strides), offset \(offset)) needs \(endByte) bytes but its storage has \(storage.count)")
            }
        }
        self.storage = storage
        self.dtype = dtype
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.byteOrder = byteOrder
    }

    /// A new zero-filled contiguous tensor in owned memory.
    public init(zeros shape: [Int], dtype: DType = .f32) {
        let n = shape.reduce(1, *)
        self.storage = Storage(byteCount: n * dtype.size)
        self.dtype = dtype
        self.shape = shape
        self.strides = Tensor.contiguousStrides(shape)
        self.offset = 0
        self.byteOrder = .little
    }

    /// A new contiguous Float32 tensor holding `values`.
    public init(shape: [Int], floats values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
        self.init(zeros: shape, dtype: .f32)
        values.withUnsafeBytes { src in
            if src.count > 0 { storage.mutableBytes.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: src.count) }
        }
    }

    /// This tensor, its storage frozen (`Storage.freeze`): read-only from now on, as bound model parameters are,
    /// so the engine may keep forms derived from it across calls.
    @discardableResult
    public func frozen() -> Tensor {
        storage.freeze()
        return self
    }

    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc *= max(shape[i], 1)
        }
        return strides
    }

    public var rank: Int { shape.count }
    public var elementCount: Int { shape.reduce(1, *) }
    /// Bytes of the tensor when written contiguously.
    public var byteCount: Int { elementCount * dtype.size }

    /// True when the elements are in C order, packed, in host (little-endian) byte order.
    public var isContiguous: Bool {
        guard byteOrder == .host else { return false }
        if shape.contains(0) { return true }  // no elements: any strides describe the same (empty) layout
        var expected = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) where shape[i] != 1 {
            if strides[i] != expected { return false }
            expected *= shape[i]
        }
        return true
    }

    /// The raw bytes when the tensor is contiguous (zero-copy), nil otherwise.
    public var contiguousBytes: UnsafeRawBufferPointer? {
        guard isContiguous else { return nil }
        let start = offset * dtype.size
        guard byteCount > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: storage.bytes[start..<(start + byteCount)])
    }

    /// Calls `body` with the C-contiguous little-endian bytes: zero-copy when possible, else a packed copy.
    public func withContiguousBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let b = contiguousBytes { return try body(b) }
        let packed = contiguous()
        return try body(packed.contiguousBytes!)
    }

    /// This tensor packed in C order and little-endian byte order, in owned memory (self when already so).
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        let out = Storage.uninitialized(byteCount: byteCount)
        copyElements(into: out.mutableBytes.baseAddress!)
        return try! Tensor(storage: out, dtype: dtype, shape: shape)
    }

    /// Writes the elements in C order and little-endian byte order to `dst` (`byteCount` bytes).
    public func copyElements(into dst: UnsafeMutableRawPointer) {
        let size = dtype.size
        if let b = contiguousBytes {
            if b.count > 0 { dst.copyMemory(from: b.baseAddress!, byteCount: b.count) }
            return
        }
        guard elementCount > 0 else { return }
        let src = storage.bytes.baseAddress!
        let swap = byteOrder != .host
        var out = dst
        // Walk the view in C order; the innermost dimension is copied as a run of elements.
        let rank = shape.count
        if rank == 0 {
            Tensor.copyElement(src + offset * size, out, size, swap)
            return
        }
        var index = [Int](repeating: 0, count: rank)
        let inner = shape[rank - 1], innerStride = strides[rank - 1]
        outer: while true {
            var base = offset
            for d in 0..<(rank - 1) { base += index[d] * strides[d] }
            if innerStride == 1 && !swap {
                out.copyMemory(from: src + base * size, byteCount: inner * size)
                out += inner * size
            } else {
                for i in 0..<inner {
                    Tensor.copyElement(src + (base + i * innerStride) * size, out, size, swap)
                    out += size
                }
            }
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { continue outer }
                index[d] = 0
                d -= 1
            }
            break
        }
    }

    @inline(__always)
    private static func copyElement(_ s: UnsafeRawPointer, _ d: UnsafeMutableRawPointer, _ size: Int, _ swap: Bool) {
        if !swap {
            d.copyMemory(from: s, byteCount: size)
        } else {
            for k in 0..<size { d.storeBytes(of: s.load(fromByteOffset: size - 1 - k, as: UInt8.self), toByteOffset: k, as: UInt8.self) }
        }
    }

    /// The same data with another shape (contiguous tensors only; others are packed first).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == elementCount, "cannot reshape \(shape) to \(newShape)")
        let c = contiguous()
        return try! Tensor(storage: c.storage, dtype: dtype, shape: newShape, offset: c.offset)
    }
}
