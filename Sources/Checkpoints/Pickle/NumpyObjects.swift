import TensorStore

/// numpy objects inside pickles: `dtype(descr, False, True)` + BUILD `(3, order, …)`,
/// `_reconstruct(ndarray, (0,), b'b')` + BUILD `(1, shape, dtype, is_fortran, raw)`, and `scalar(dtype, raw)`.
/// Arrays become tensors viewing the pickle's bytes; nothing numpy-specific is ever called.
enum NumpyObjects {
    static func dtype(descr: String) -> NumpyDType {
        var d = NumpyDType(dtype: nil, byteOrder: .little, descr: descr)
        let aliases: [String: DType] = ["?": .bool, "bool": .bool, "float32": .f32, "float64": .f64, "float16": .f16,
                                        "int64": .i64, "int32": .i32, "int16": .i16, "int8": .i8, "uint8": .u8,
                                        "uint16": .u16, "uint32": .u32, "uint64": .u64]
        if let a = aliases[descr] {
            d.dtype = a
        } else if let (t, order) = try? NumPy.parseDescr(descr) {
            d.dtype = t
            d.byteOrder = order
        }
        return d
    }

    /// BUILD state of a dtype: `(version, byteorder, subarray, names, fields, elsize, alignment, flags)`.
    static func buildDType(_ o: PickleObject, _ state: PickleValue) {
        guard let items = state.sequence, items.count >= 2, let order = items[1].stringValue else { return }
        if order == ">" { o.numpyDType?.byteOrder = .big } else if order == "<" { o.numpyDType?.byteOrder = .little }
        if let t = o.numpyDType?.dtype, t.size == 1 { o.numpyDType?.byteOrder = .little }
    }

    static func dtype(of v: PickleValue) -> NumpyDType? {
        if case let .object(o) = v, o.kind == .numpyDType { return o.numpyDType }
        return nil
    }

    /// BUILD state of an ndarray: `(version, shape, dtype, is_fortran, raw)` (older numpy omits the version).
    static func buildArray(_ o: PickleObject, _ state: PickleValue, machine m: PickleMachine) throws {
        o.state = state
        guard var items = state.sequence else { throw m.fail(.corrupt, "numpy array state is a \(state.typeName)") }
        if items.count == 5 { items.removeFirst() }
        guard items.count == 4 else { throw m.fail(.corrupt, "numpy array state has \(items.count) fields") }
        let shape = try m.ints(items[0], "numpy array shape")
        guard let nd = dtype(of: items[1]) else { throw m.fail(.corrupt, "numpy array dtype is a \(items[1].typeName)") }
        guard let dt = nd.dtype else {
            m.context.warn("numpy array of dtype '\(nd.descr)' kept as an inert node (only numeric dtypes become tensors)")
            return
        }
        let fortran: Bool
        switch items[2] {
        case let .bool(b): fortran = b
        case let .int(i): fortran = i != 0
        default: throw m.fail(.corrupt, "numpy array is_fortran is a \(items[2].typeName)")
        }
        guard case let .bytes(raw) = items[3] else {
            m.context.warn("numpy array whose data is a \(items[3].typeName) (object array) kept as an inert node")
            return
        }
        guard shape.allSatisfy({ $0 >= 0 }), let numel = CheckedMath.elementCount(shape),
              let need = CheckedMath.multiply(numel, dt.size) else {
            throw m.fail(.outOfBounds, "numpy array shape \(shape) overflows")
        }
        guard raw.count == need else {
            throw m.fail(.corrupt, "numpy array of shape \(shape) \(dt.displayName) needs \(need) bytes, its data has \(raw.count)")
        }
        let ref = try StorageRef(key: "numpy@\(m.location)", dtype: dt, numel: numel)
        ref.data = try m.context.slice(raw, alignment: dt.size)
        ref.byteOrder = nd.byteOrder
        var strides = Tensor.contiguousStrides(shape)
        if fortran {
            var acc = 1
            for i in 0..<shape.count { strides[i] = acc; acc *= max(shape[i], 1) }
        }
        let box = TensorBox(storage: ref, dtype: dt, shape: shape, strides: strides, offset: 0, location: m.location)
        do { _ = try box.materialize() } catch let e as StoreError { throw m.fail(e.code, e.message) }
        o.tensor = box
    }

    /// The raw bytes and dtype of a numpy scalar object.
    static func scalarParts(_ o: PickleObject) -> (NumpyDType, PickleBytes)? {
        guard o.kind == .numpyScalar, o.args.count >= 2, let nd = dtype(of: o.args[0]), case let .bytes(b) = o.args[1] else { return nil }
        return (nd, b)
    }

    /// A numpy scalar as a one-element tensor (TF network variables such as `lod`, `noise_strength`).
    static func scalarTensor(_ o: PickleObject, context: PickleContext) throws -> TensorBox? {
        guard let (nd, b) = scalarParts(o), let dt = nd.dtype, b.count == dt.size else { return nil }
        let ref = try StorageRef(key: "numpy-scalar@\(o.location)", dtype: dt, numel: 1)
        ref.data = try context.slice(b, alignment: dt.size)
        ref.byteOrder = nd.byteOrder
        return TensorBox(storage: ref, dtype: dt, shape: [1], strides: [1], offset: 0, location: o.location)
    }

    /// A numpy scalar as a JSON number or bool (metadata such as NVlabs `weight_gain`).
    static func scalarJSON(_ o: PickleObject) -> JSONValue? {
        guard let (nd, b) = scalarParts(o), let dt = nd.dtype, b.count == dt.size else { return nil }
        var raw = Array(b.bytes)
        if nd.byteOrder == .big && dt.size > 1 { raw.reverse() }
        return raw.withUnsafeBytes { p -> JSONValue? in
            switch dt {
            case .f64: return .number(p.loadUnaligned(as: Double.self))
            case .f32: return .number(Double(p.loadUnaligned(as: Float.self)))
            case .f16:
                var f: Float = 0
                Tensor.convertToFloat(p.baseAddress!, .f16, &f, 1)
                return .number(Double(f))
            case .i64: return .number(Double(p.loadUnaligned(as: Int64.self)))
            case .i32: return .number(Double(p.loadUnaligned(as: Int32.self)))
            case .i16: return .number(Double(p.loadUnaligned(as: Int16.self)))
            case .i8: return .number(Double(p.loadUnaligned(as: Int8.self)))
            case .u64: return .number(Double(p.loadUnaligned(as: UInt64.self)))
            case .u32: return .number(Double(p.loadUnaligned(as: UInt32.self)))
            case .u16: return .number(Double(p.loadUnaligned(as: UInt16.self)))
            case .u8: return .number(Double(p.loadUnaligned(as: UInt8.self)))
            case .bool: return .bool(p.loadUnaligned(as: UInt8.self) != 0)
            case .bf16: return .number(Double(Float(bitPattern: UInt32(p.loadUnaligned(as: UInt16.self)) << 16)))
            }
        }
    }
}

extension PickleContext {
    /// A storage over pickle bytes: zero-copy when the memory is mapped and aligned, else a budgeted copy.
    func slice(_ b: PickleBytes, alignment: Int) throws -> Storage {
        let aligned = StorageSlicer.isAligned(b.owner, b.range.lowerBound, alignment)
        if !(b.owner.isMapped && aligned) && !(b.range == 0..<b.owner.count && aligned) {
            try budget.allocate(b.count, "a copy of \(b.count) data bytes")
        }
        return try StorageSlicer.slice(b.owner, b.range, alignment: alignment)
    }
}
