import TensorStore

/// Non-tensor metadata of a pickle as JSON: top-level training values (rosinality `args`, `ada_aug_p`,
/// `steps`, NVlabs `training_set_kwargs`), module records as their class and init kwargs, TF networks as their
/// name, version and static kwargs. Tensors are left out (they are the checkpoint's tensors).
enum CheckpointMetadata {
    static let maxDepth = 64
    /// Larger values are replaced by a note (a metadata field is not a place for data).
    static let maxSerializedBytes = 256 << 10

    /// Values visited in total; memo-shared DAGs would otherwise expand exponentially.
    final class Budget {
        var remaining = 200_000
    }

    static func extract(_ root: PickleValue, context: PickleContext) -> [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        let budget = Budget()
        func add(_ key: String, _ v: PickleValue) {
            guard let j = json(v, depth: 0, budget), !isEmptyContainer(j) else { return }
            if budget.remaining <= 0 {
                context.warn("metadata '\(key)' and later entries cut short (object graph too large to describe)")
            }
            let text = j.serialized()
            if text.utf8.count > maxSerializedBytes {
                context.warn("metadata '\(key)' (\(text.utf8.count) bytes of JSON) left out")
                return
            }
            out.append((key, j))
        }
        switch root {
        case let .dict(d):
            for (k, v) in d.items { add(ObjectGraphWalker.keyName(k), v) }
        case let .tuple(t):
            for (i, v) in t.items.enumerated() { add(TFNetworkNode.of(v)?.name ?? String(i), v) }
        case .object:
            add(ModuleNode.of(root) != nil ? "model" : "root", root)
        default:
            break
        }
        return out
    }

    static func isEmptyContainer(_ j: JSONValue) -> Bool {
        switch j {
        case let .object(o): return o.isEmpty
        case let .array(a): return a.isEmpty
        default: return false
        }
    }

    /// JSON for a value; nil when it holds nothing but tensors (or nothing representable).
    static func json(_ v: PickleValue, depth: Int, _ budget: Budget) -> JSONValue? {
        budget.remaining -= 1
        guard depth < maxDepth, budget.remaining > 0 else { return nil }
        switch v {
        case .none: return .null
        case let .bool(b): return .bool(b)
        case let .int(i): return .number(Double(i))
        case .bigInt: return .string("<integer beyond 64 bits>")
        case let .float(f): return .number(f)
        case let .string(s): return .string(s.utf8.count > 4096 ? "<\(s.utf8.count)-byte string>" : s)
        case .bytes, .tensor, .storage: return nil
        case let .global(g): return .string(g.description)
        case let .tuple(t): return array(t.items, depth, budget)
        case let .list(l): return array(l.items, depth, budget)
        case let .set(s): return array(s.items, depth, budget)
        case let .dict(d): return object(d.items.map { (ObjectGraphWalker.keyName($0.0), $0.1) }, depth, budget)
        case let .object(o): return objectJSON(o, depth, budget)
        }
    }

    private static func array(_ items: [PickleValue], _ depth: Int, _ budget: Budget) -> JSONValue? {
        if items.isEmpty { return .array([]) }
        let js = items.map { json($0, depth: depth + 1, budget) }
        if js.allSatisfy({ $0 == nil }) { return nil }
        return .array(js.map { $0 ?? .null })
    }

    private static func object(_ items: [(String, PickleValue)], _ depth: Int, _ budget: Budget) -> JSONValue? {
        if items.isEmpty { return .object([]) }
        var out: [(String, JSONValue)] = []
        for (k, v) in items {
            if let j = json(v, depth: depth + 1, budget) { out.append((k, j)) }
        }
        return out.isEmpty ? nil : .object(out)
    }

    private static func objectJSON(_ o: PickleObject, _ depth: Int, _ budget: Budget) -> JSONValue? {
        if o.dangerous { return .string("<dangerous global \(o.className), inert>") }
        switch o.kind {
        case .numpyScalar:
            return NumpyObjects.scalarJSON(o)
        case .numpyDType:
            return .string(o.numpyDType?.descr ?? "dtype")
        case .ndarray:
            // Small arrays that are attributes (SG3 `size`, `in_size`) read better as numbers; others are tensors.
            guard let t = o.tensor, t.shape.reduce(1, *) <= 64, let tensor = try? t.materialize() else { return nil }
            return .array(tensor.toFloat32().floats().map { .number(Double($0)) })
        case .namespace:
            guard let d = o.attributeDict else { return .object([]) }
            return object(d.items.map { (ObjectGraphWalker.keyName($0.0), $0.1) }, depth, budget) ?? .object([])
        case .tfNetwork:
            guard let net = TFNetworkNode.of(.object(o)) else { return nil }
            var items: [(String, JSONValue)] = [("class", .string("dnnlib.tflib.network.Network"))]
            if let n = net.name { items.append(("name", .string(n))) }
            if let v = net.version { items.append(("version", .number(Double(v)))) }
            if let b = net.buildFuncName { items.append(("build_func_name", .string(b))) }
            if let k = net.state["static_kwargs"], let j = json(k, depth: depth + 1, budget) { items.append(("static_kwargs", j)) }
            for extra in ["input_shapes", "output_shapes", "input_names", "output_names"] {
                if let k = net.state[extra], let j = json(k, depth: depth + 1, budget) { items.append((extra, j)) }
            }
            let comps = net.components.compactMap { n, v in json(v, depth: depth + 1, budget).map { (n, $0) } }
            if !comps.isEmpty { items.append(("components", .object(comps))) }
            return .object(items)
        case .persistentModule, .opaque:
            if let m = ModuleNode.of(.object(o)) {
                var items: [(String, JSONValue)] = [("class", .string(m.className)), ("source", .string(m.source.rawValue))]
                if let a = m.initArgs, let j = json(a, depth: depth + 1, budget), !isEmptyContainer(j) { items.append(("init_args", j)) }
                if let k = m.initKwargs, let j = json(k, depth: depth + 1, budget) { items.append(("init_kwargs", j)) }
                return .object(items)
            }
            return .string("<object \(o.className)>")
        }
    }
}
