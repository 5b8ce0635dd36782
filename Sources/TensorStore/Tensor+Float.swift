/// Conversion to the engine's compute type: contiguous little-endian Float32 in owned (or zero-copy) memory.
extension Tensor {
    /// This tensor as contiguous Float32. Zero-copy when it already is; otherwise a converted copy.
    public func toFloat32() -> Tensor {
        if dtype == .f32 && isContiguous { return self }
        let packed = contiguous()
        let n = elementCount
        let out = Storage.uninitialized(byteCount: n * 4)
        let dst = out.mutableBytes.baseAddress!.assumingMemoryBound(to: Float.self)
        let src = packed.storage.bytes.baseAddress.map { $0 + packed.offset * dtype.size }
        if n > 0, let src {
            Tensor.convertToFloat(src, dtype, dst, n)
        }
        return try! Tensor(storage: out, dtype: .f32, shape: shape)
    }

    /// The elements as a Swift array of Float (any dtype, any layout).
    public func floats() -> [Float] {
        let t = toFloat32()
        let n = t.elementCount
        guard n > 0 else { return [] }
        let p = (t.storage.bytes.baseAddress! + t.offset * 4).assumingMemoryBound(to: Float.self)
        return Array(UnsafeBufferPointer(start: p, count: n))
    }

    /// Read access to the Float32 elements of a contiguous f32 tensor.
    public func withFloats<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        let t = toFloat32()
        let n = t.elementCount
        guard n > 0 else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        let p = (t.storage.bytes.baseAddress! + t.offset * 4).assumingMemoryBound(to: Float.self)
        return try body(UnsafeBufferPointer(start: p, count: n))
    }

    /// Write access to the elements of a contiguous f32 tensor in owned memory (engine outputs).
    public var mutableFloats: UnsafeMutableBufferPointer<Float> {
        precondition(dtype == .f32 && isContiguous && storage.isWritable,
                     "mutableFloats needs an owned, unfrozen, contiguous f32 tensor")
        let n = elementCount
        let p = (storage.mutableBytes.baseAddress! + offset * 4).assumingMemoryBound(to: Float.self)
        return UnsafeMutableBufferPointer(start: p, count: n)
    }

    /// Converts `count` contiguous little-endian elements of `dtype` to Float.
    public static func convertToFloat(_ src: UnsafeRawPointer, _ dtype: DType, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        switch dtype {
        case .f32: dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
        case .f64: for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
        case .f16: for i in 0..<count { dst[i] = Float(halfBits: src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
        case .bf16: for i in 0..<count { dst[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16) }
        case .i64: for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
        case .i32: for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)) }
        case .i16: for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)) }
        case .i8: for i in 0..<count { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
        case .u64: for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
        case .u32: for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)) }
        case .u16: for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
        case .u8: for i in 0..<count { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
        case .bool: for i in 0..<count { dst[i] = src.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
        }
    }

    /// The elements of an integer tensor as Int64 (for labels, counts, cutoffs).
    public func int64s() -> [Int64] {
        let t = contiguous()
        let n = t.elementCount
        guard n > 0 else { return [] }
        let p = t.storage.bytes.baseAddress! + t.offset * dtype.size
        var out = [Int64](); out.reserveCapacity(n)
        for i in 0..<n {
            switch dtype {
            case .i64: out.append(p.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
            case .i32: out.append(Int64(p.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
            case .i16: out.append(Int64(p.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)))
            case .i8: out.append(Int64(p.load(fromByteOffset: i, as: Int8.self)))
            case .u64: out.append(Int64(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
            case .u32: out.append(Int64(p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            case .u16: out.append(Int64(p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            case .u8, .bool: out.append(Int64(p.load(fromByteOffset: i, as: UInt8.self)))
            case .f32, .f64, .f16, .bf16:
                var f: Float = 0
                Tensor.convertToFloat(p + i * dtype.size, dtype, &f, 1)
                out.append(Int64(f))
            }
        }
        return out
    }
}

extension Float {
    /// IEEE 754 half precision bits to Float, exact for every value (including subnormals, inf, NaN).
    @inlinable
    public init(halfBits h: UInt16) {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int(h >> 10) & 0x1f
        let mant = UInt32(h & 0x3ff)
        if exp == 0 {
            // zero or subnormal: mant × 2^-24
            let v = Float(mant) * Float(bitPattern: 0x3380_0000) // 2^-24
            self = sign != 0 ? -v : v
        } else if exp == 31 {
            self = Float(bitPattern: sign | 0x7f80_0000 | (mant << 13))
        } else {
            self = Float(bitPattern: sign | (UInt32(exp + 112) << 23) | (mant << 13))
        }
    }
}
