import TensorStore

/// Symbolic meaning of GLOBAL / REDUCE / NEWOBJ / BUILD. Allowlisted globals are interpreted as the values
/// they would produce; every other callable or class becomes an inert `PickleObject` that names it.
extension PickleMachine {
    func resolveGlobal(_ module: String, _ name: String) -> PickleValue {
        let g = GlobalName(module: module, name: name)
        let safety = GlobalPolicy.classify(g)
        context.record(g, safety: safety, location: location)
        if safety == .unknown && !context.scanOnly {
            context.warn("unknown global \(g) kept as an inert node (nothing executed)")
        }
        return .global(g)
    }

    func opaque(_ g: GlobalName?, _ args: [PickleValue], kind: PickleObject.Kind = .opaque, dangerous: Bool? = nil) throws -> PickleValue {
        let isDangerous = dangerous ?? g.map { GlobalPolicy.classify($0) == .dangerous } ?? false
        return .object(try container(PickleObject(callable: g, kind: kind, args: args, location: location, dangerous: isDangerous)))
    }

    func reduce(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
        guard case let .tuple(t) = args else { throw fail(.corrupt, "REDUCE arguments are a \(args.typeName), not a tuple") }
        switch callable {
        case let .global(g):
            if context.scanOnly {
                do { return try call(g, t.items, depth: 0) } catch { return try opaque(g, t.items) }
            }
            return try call(g, t.items, depth: 0)
        case let .object(o):
            // Calling the result of a call (e.g. functools.partial(...)()): inert, and as dangerous as its source.
            return try opaque(o.callable, [callable] + t.items, dangerous: o.dangerous)
        default:
            throw fail(.corrupt, "REDUCE calls a \(callable.typeName)")
        }
    }

    private func call(_ g: GlobalName, _ args: [PickleValue], depth: Int) throws -> PickleValue {
        guard let meaning = GlobalPolicy.meaning(of: g) else { return try opaque(g, args) }
        switch meaning {
        case .orderedDict, .plainDict, .counter, .easyDict:
            let d = try container(PickleDict(className: g.module == "builtins" || g.module == "__builtin__" ? nil : g.description))
            if let first = args.first {
                if case let .dict(src) = first {
                    for (k, v) in src.items { d.set(k, v) }
                } else if let pairs = first.sequence {
                    for p in pairs {
                        guard let kv = p.sequence, kv.count == 2 else { throw fail(.corrupt, "\(g) built from a non-pair item") }
                        d.set(kv[0], kv[1])
                    }
                }
            }
            return .dict(d)
        case .set, .frozenSet:
            var items: [PickleValue] = []
            if let first = args.first {
                if let seq = first.sequence { items = seq } else if case let .set(s) = first { items = s.items }
            }
            return .set(try container(PickleSet(items, frozen: meaning == .frozenSet)))
        case .bytearray:
            if args.isEmpty { return .bytes(PickleBytes(owner: Storage(byteCount: 0), range: 0..<0)) }
            if case .bytes = args[0] { return args[0] }
            return try encode(args)
        case .codecsEncode:
            return try encode(args)
        case .torchSize:
            guard let seq = args.first?.sequence else { throw fail(.corrupt, "torch.Size without a tuple of sizes") }
            return .tuple(try container(PickleTuple(seq)))
        case .torchDevice:
            return args.first ?? .string("cpu")
        case .torchLayout:
            return .string(args.first?.stringValue ?? g.name)
        case .torchRebuildTensor, .torchRebuildTensorV2, .torchRebuildTensorV3:
            return try rebuildTensor(meaning, args)
        case .torchRebuildParameter, .torchRebuildParameterWithState, .torchParameter:
            guard let data = args.first else { throw fail(.corrupt, "\(g) without data") }
            return data
        case .torchRebuildFromTypeV2:
            guard args.count >= 3, case let .global(fg) = args[0], case let .tuple(inner) = args[2] else {
                throw fail(.corrupt, "\(g) needs (function, type, args, state)")
            }
            guard depth < 8 else { throw fail(.corrupt, "\(g) nests too deeply") }
            return try call(fg, inner.items, depth: depth + 1)
        case .torchRebuildDeviceTensorFromNumpy:
            guard case let .object(o)? = args.first, let t = o.tensor else { throw fail(.corrupt, "\(g) without a numpy array") }
            return .tensor(t)
        case .torchRebuildUnsupported:
            context.warn("\(g) (quantized, sparse, meta or subclass tensor) is not supported; kept as an inert node")
            return try opaque(g, args)
        case .loadFromBytes:
            guard case let .bytes(b)? = args.first else { throw fail(.corrupt, "\(g) without a bytes argument") }
            return try TorchLegacyStream.nested(b, context: context, location: location)
        case .numpyReconstruct:
            return try opaque(g, args, kind: .ndarray)
        case .numpyNDArray:
            return try opaque(g, args, kind: .ndarray)
        case .numpyDType:
            let obj = try container(PickleObject(callable: g, kind: .numpyDType, args: args, location: location))
            obj.numpyDType = NumpyObjects.dtype(descr: args.first?.stringValue ?? g.name)
            return .object(obj)
        case .numpyScalar:
            return try opaque(g, args, kind: .numpyScalar)
        case .numpyFromBuffer:
            // Protocol-5 arrays: _frombuffer(buffer, dtype, shape, order) — the same fields as an ndarray BUILD.
            guard args.count >= 4 else { throw fail(.corrupt, "\(g) with \(args.count) arguments") }
            let obj = try container(PickleObject(callable: g, kind: .ndarray, args: [], location: location))
            let fortran = PickleValue.bool(args[3].stringValue == "F")
            let state = PickleValue.tuple(try container(PickleTuple([args[2], args[1], fortran, args[0]])))
            try NumpyObjects.buildArray(obj, state, machine: self)
            return .object(obj)
        case .argparseNamespace:
            return try opaque(g, args, kind: .namespace)
        case .persistentObject:
            return try opaque(g, args, kind: .persistentModule)
        case .tfNetwork:
            return try opaque(g, args, kind: .tfNetwork)
        case .copyregReconstructor, .copyregNewObj:
            guard let cls = args.first else { throw fail(.corrupt, "\(g) without a class") }
            return try newObject(cls, Array(args.dropFirst(meaning == .copyregNewObj ? 1 : 3)))
        case .complex, .slice, .builtinValueType, .torchTensorClass, .torchModuleClass, .torchStorage, .torchDType:
            return try opaque(g, args)
        }
    }

    func newObject(_ cls: PickleValue, _ args: [PickleValue]) throws -> PickleValue {
        guard case let .global(g) = cls else {
            if case let .object(o) = cls { return try opaque(o.callable, args, dangerous: o.dangerous) }
            throw fail(.corrupt, "NEWOBJ on a \(cls.typeName)")
        }
        switch GlobalPolicy.meaning(of: g) {
        case .orderedDict?, .plainDict?, .counter?, .easyDict?:
            return .dict(try container(PickleDict(className: g.module == "builtins" ? nil : g.description)))
        case .set?, .frozenSet?:
            return .set(try container(PickleSet(frozen: g.name == "frozenset")))
        case .argparseNamespace?:
            return try opaque(g, args, kind: .namespace)
        case .tfNetwork?:
            return try opaque(g, args, kind: .tfNetwork)
        case .torchParameter?:
            if case .tensor? = args.first { return args[0] }
            return try opaque(g, args)
        case .numpyNDArray?:
            return try opaque(g, args, kind: .ndarray)
        case .builtinValueType?:
            if g.name == "list" { return .list(try container(PickleList())) }
            return try opaque(g, args)
        default:
            return try opaque(g, args)
        }
    }

    func build(_ target: PickleValue, _ state: PickleValue) throws {
        switch target {
        case let .object(o):
            switch o.kind {
            case .ndarray:
                if context.scanOnly { try? NumpyObjects.buildArray(o, state, machine: self) } else { try NumpyObjects.buildArray(o, state, machine: self) }
            case .numpyDType:
                NumpyObjects.buildDType(o, state)
            default:
                if case let .dict(old)? = o.state, case let .dict(new) = state {
                    for (k, v) in new.items { old.set(k, v) }
                } else {
                    o.state = state
                }
            }
        case let .dict(d):
            d.attributes = state  // OrderedDict._metadata of a state_dict, EasyDict attributes: kept, not interpreted
        case .tensor:
            break  // tensor __setstate__ (requires_grad, hooks): nothing the reader needs
        default:
            throw fail(.corrupt, "BUILD on a \(target.typeName)")
        }
    }

    /// `_codecs.encode(str, 'latin1')` (protocol-2 bytes) and `bytearray(str, encoding)`.
    private func encode(_ args: [PickleValue]) throws -> PickleValue {
        guard case let .string(s)? = args.first else { throw fail(.corrupt, "_codecs.encode without a string") }
        let enc = (args.count > 1 ? args[1].stringValue : nil)?.lowercased() ?? "utf-8"
        let latin1 = ["latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1"].contains(enc)
        guard latin1 || enc == "utf-8" || enc == "utf8" || enc == "ascii" else {
            throw fail(.unsupported, "_codecs.encode with encoding '\(enc)'")
        }
        let n = latin1 ? s.unicodeScalars.count : s.utf8.count
        try context.budget.allocate(n, "_codecs.encode of \(n) bytes")
        let out = Storage.uninitialized(byteCount: n)
        let dst = out.mutableBytes
        var i = 0
        if latin1 {
            for u in s.unicodeScalars {
                guard u.value < 256 else { throw fail(.corrupt, "_codecs.encode: character U+\(String(u.value, radix: 16)) is not Latin-1") }
                dst[i] = UInt8(u.value)
                i += 1
            }
        } else {
            for b in s.utf8 { dst[i] = b; i += 1 }
        }
        return .bytes(PickleBytes(owner: out, range: 0..<n))
    }

    func ints(_ v: PickleValue, _ what: String) throws -> [Int] {
        guard let seq = v.sequence else { throw fail(.corrupt, "\(what) is a \(v.typeName), not a tuple") }
        guard seq.count <= 64 else { throw fail(.unsupported, "\(what) has \(seq.count) dimensions") }
        return try seq.map {
            guard let i = $0.intValue else {
                if case .bigInt = $0 { throw fail(.outOfBounds, "\(what) holds an integer beyond 64 bits") }
                throw fail(.corrupt, "\(what) holds a \($0.typeName)")
            }
            return i
        }
    }

    private func rebuildTensor(_ meaning: GlobalPolicy.Meaning, _ args: [PickleValue]) throws -> PickleValue {
        let needed = meaning == .torchRebuildTensorV3 ? 7 : 4
        guard args.count >= needed else { throw fail(.corrupt, "tensor rebuild with \(args.count) arguments (needs \(needed))") }
        guard case let .storage(ref) = args[0] else { throw fail(.corrupt, "tensor rebuild without a storage (got \(args[0].typeName))") }
        guard let offset = args[1].intValue else { throw fail(.corrupt, "tensor storage offset is a \(args[1].typeName)") }
        let shape = try ints(args[2], "tensor size")
        let strides = try ints(args[3], "tensor stride")
        guard shape.count == strides.count else { throw fail(.corrupt, "tensor size \(shape) and stride \(strides) differ in rank") }
        var dtype = ref.dtype
        if meaning == .torchRebuildTensorV3 {
            guard case let .global(dg) = args[6], case let .torchDType(dt)? = GlobalPolicy.meaning(of: dg) else {
                throw fail(.corrupt, "_rebuild_tensor_v3 dtype is a \(args[6].typeName)")
            }
            guard let dt else { throw fail(.unsupported, "tensor dtype \(dg) is not supported") }
            dtype = dt
        }
        guard let dtype else { throw fail(.corrupt, "tensor on an untyped storage without a dtype") }
        let box = TensorBox(storage: ref, dtype: dtype, shape: shape, strides: strides, offset: offset, location: location)
        if ref.data != nil {
            // Validate at once when the bytes are known, so the error names this byte offset.
            do { _ = try box.materialize() } catch let e as StoreError { throw fail(e.code, e.message) }
        }
        return .tensor(box)
    }
}
