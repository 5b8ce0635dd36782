import TensorStore

/// Walks a pickle's object graph once, naming every tensor by its dotted path as a state_dict would
/// (dict keys, list indices, module members, TF variable paths with `/` → `.`), and building the object tree.
/// Depth, visit count and cycles are bounded, so hostile graphs cannot recurse without limit.
final class ObjectGraphWalker {
    let context: PickleContext
    private(set) var store = TensorStore()
    /// Dangerous globals met in the graph, with the dotted path where each sits.
    private(set) var dangerousSites: [(global: GlobalName, path: String, location: String)] = []
    private var visits = 0
    private var onPath = Set<ObjectIdentifier>()
    private var visitsPerObject: [ObjectIdentifier: Int] = [:]
    static let maxVisitsPerObject = 4096

    init(context: PickleContext) { self.context = context }

    static func joined(_ path: [String]) -> String { path.isEmpty ? "<root>" : path.joined(separator: ".") }

    /// Name of a dict key as a path component.
    static func keyName(_ k: PickleValue) -> String {
        switch k {
        case let .string(s): return s
        case let .int(i): return String(i)
        case let .bool(b): return b ? "True" : "False"
        case .none: return "None"
        case let .float(f): return String(f)
        case let .tuple(t): return t.items.map(keyName).joined(separator: "_")
        case let .global(g): return g.description
        default: return "<\(k.typeName)>"
        }
    }

    func walk(_ v: PickleValue, path: [String], label: String, depth: Int = 0) throws -> CheckpointTree {
        visits += 1
        guard visits <= context.budget.maxGraphVisits else {
            throw StoreError(.tooLarge, "object graph has more than \(context.budget.maxGraphVisits) paths (memo-shared expansion?)")
        }
        guard depth <= context.budget.maxGraphDepth else {
            throw StoreError(.tooLarge, "object graph nests deeper than \(context.budget.maxGraphDepth) at \(Self.joined(path))")
        }
        let prefix = label.isEmpty ? "" : label + ": "
        switch v {
        case let .tensor(box):
            try emit(box, path)
            return CheckpointTree(prefix + describe(box))
        case .none, .bool, .int, .bigInt, .float, .string, .bytes:
            return CheckpointTree(prefix + leafText(v))
        case .storage:
            return CheckpointTree(prefix + "storage")
        case let .set(s):
            return CheckpointTree(prefix + "set (\(s.items.count) items)")
        case let .global(g):
            noteDangerous(g, path: path, location: "")
            return CheckpointTree(prefix + "global \(g)" + (GlobalPolicy.classify(g) == .dangerous ? " (dangerous, inert)" : ""))
        case let .dict(d):
            return try guarded(d, prefix + "(cycle)") {
                let kind = d.className.map { Self.shortClass($0) } ?? "dict"
                var node = CheckpointTree(prefix + "\(kind) (\(d.count) items)")
                for (k, x) in d.items {
                    let name = Self.keyName(k)
                    node.children.append(try walk(x, path: path + [name], label: name, depth: depth + 1))
                }
                return node
            }
        case let .list(l):
            return try guarded(l, prefix + "(cycle)") {
                try sequence(l.items, kind: "list", prefix: prefix, path: path, depth: depth)
            }
        case let .tuple(t):
            return try guarded(t, prefix + "(cycle)") {
                try sequence(t.items, kind: "tuple", prefix: prefix, path: path, depth: depth)
            }
        case let .object(o):
            return try guarded(o, prefix + "(cycle)") { try object(o, prefix: prefix, path: path, depth: depth) }
        }
    }

    private func guarded(_ obj: AnyObject, _ cycleLabel: String, _ body: () throws -> CheckpointTree) throws -> CheckpointTree {
        let id = ObjectIdentifier(obj)
        guard onPath.insert(id).inserted else { return CheckpointTree(cycleLabel) }
        // Sharing through the memo is normal (a tensor under two names); thousands of paths to one container
        // are an expansion bomb, caught here long before the total visit budget.
        let n = (visitsPerObject[id] ?? 0) + 1
        visitsPerObject[id] = n
        guard n <= Self.maxVisitsPerObject else {
            onPath.remove(id)
            throw StoreError(.tooLarge, "one container is reached through more than \(Self.maxVisitsPerObject) paths (memo-shared expansion)")
        }
        defer { onPath.remove(id) }
        return try body()
    }

    private func sequence(_ items: [PickleValue], kind: String, prefix: String, path: [String], depth: Int) throws -> CheckpointTree {
        // A tuple of TF networks (G, D, Gs) is named by the networks' own names.
        let netNames = items.map { TFNetworkNode.of($0)?.name }
        let useNames = !items.isEmpty && netNames.allSatisfy { $0 != nil } && Set(netNames.compactMap { $0 }).count == items.count
        var node = CheckpointTree(prefix + "\(kind) (\(items.count) items)")
        var scalarsShown = 0
        for (i, x) in items.enumerated() {
            // Long runs of plain values (optimizer param ids, logs) are summarised, not walked one by one.
            if !holdsData(x) {
                scalarsShown += 1
                if scalarsShown > 16 { continue }
            }
            let name = useNames ? netNames[i]! : String(i)
            node.children.append(try walk(x, path: path + [name], label: name, depth: depth + 1))
        }
        return node
    }

    private func object(_ o: PickleObject, prefix: String, path: [String], depth: Int) throws -> CheckpointTree {
        if o.dangerous {
            if let g = o.callable { noteDangerous(g, path: path, location: o.location) }
            return CheckpointTree(prefix + "opaque \(o.className) (dangerous global, inert — nothing executed)")
        }
        switch o.kind {
        case .ndarray:
            if let t = o.tensor {
                try emit(t, path)
                return CheckpointTree(prefix + "numpy " + describe(t))
            }
            return CheckpointTree(prefix + "numpy array (not a numeric tensor; inert)")
        case .numpyDType:
            return CheckpointTree(prefix + "numpy dtype \(o.numpyDType?.descr ?? "?")")
        case .numpyScalar:
            return CheckpointTree(prefix + "numpy scalar " + (NumpyObjects.scalarJSON(o)?.serialized() ?? "?"))
        case .persistentModule, .opaque:
            if let m = ModuleNode.of(.object(o)) {
                var node = CheckpointTree(prefix + "module \(m.className) (\(m.source.rawValue))")
                for (name, x, role) in m.members {
                    let childLabel = role == "module" ? name : "\(name) [\(role)]"
                    node.children.append(try walk(x, path: path + [name], label: childLabel, depth: depth + 1))
                }
                return node
            }
            var node = CheckpointTree(prefix + "opaque \(o.className) (inert)")
            // An unknown object may still hold allowlisted tensors in its attributes or items.
            if let d = o.attributeDict {
                for (k, x) in d.items where holdsData(x) {
                    let name = Self.keyName(k)
                    node.children.append(try walk(x, path: path + [name], label: name, depth: depth + 1))
                }
            }
            if let d = o.dictItems {
                for (k, x) in d.items {
                    let name = Self.keyName(k)
                    node.children.append(try walk(x, path: path + [name], label: name, depth: depth + 1))
                }
            }
            if let l = o.listItems {
                for (i, x) in l.items.enumerated() {
                    node.children.append(try walk(x, path: path + [String(i)], label: String(i), depth: depth + 1))
                }
            }
            return node
        case .namespace:
            var node = CheckpointTree(prefix + "namespace \(o.className)")
            if let d = o.attributeDict {
                for (k, x) in d.items {
                    let name = Self.keyName(k)
                    node.children.append(try walk(x, path: path + [name], label: name, depth: depth + 1))
                }
            }
            return node
        case .tfNetwork:
            guard let net = TFNetworkNode.of(.object(o)) else { return CheckpointTree(prefix + "TF network (no state)") }
            var node = CheckpointTree(prefix + "TF network '\(net.name ?? "?")' (\(net.buildFuncName ?? "?"), version \(net.version.map(String.init) ?? "?"))")
            for (name, value) in net.variables {
                let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                if case let .object(vo) = value, vo.kind == .numpyScalar, let t = try NumpyObjects.scalarTensor(vo, context: context) {
                    try emit(t, path + parts)
                    node.children.append(CheckpointTree("\(name): numpy scalar " + describe(t)))
                } else {
                    node.children.append(try walk(value, path: path + parts, label: name, depth: depth + 1))
                }
            }
            for (name, value) in net.components {
                node.children.append(try walk(value, path: path + [name], label: name, depth: depth + 1))
            }
            return node
        }
    }

    /// Finds where dangerous globals sit anywhere in the graph (module attributes, call arguments, states),
    /// visiting each container once, so the refusal can name a path.
    func findDangerous(_ root: PickleValue) {
        var seen = Set<ObjectIdentifier>()
        var work: [(PickleValue, [String], Int)] = [(root, [], 0)]
        while let (v, path, depth) = work.popLast() {
            guard depth <= context.budget.maxGraphDepth, seen.count < context.budget.maxGraphVisits else { continue }
            func visit(_ obj: AnyObject) -> Bool { seen.insert(ObjectIdentifier(obj)).inserted }
            switch v {
            case let .global(g):
                noteDangerous(g, path: path, location: "")
            case let .dict(d) where visit(d):
                for (k, x) in d.items { work.append((x, path + [Self.keyName(k)], depth + 1)) }
            case let .list(l) where visit(l):
                for (i, x) in l.items.enumerated() { work.append((x, path + [String(i)], depth + 1)) }
            case let .tuple(t) where visit(t):
                for (i, x) in t.items.enumerated() { work.append((x, path + [String(i)], depth + 1)) }
            case let .set(s) where visit(s):
                for x in s.items { work.append((x, path, depth + 1)) }
            case let .object(o) where visit(o):
                if o.dangerous, let g = o.callable { noteDangerous(g, path: path, location: o.location) }
                if o.kind == .persistentModule, case let .dict(meta)? = o.args.first, let st = meta["state"] {
                    work.append((st, path, depth + 1))
                } else {
                    for (i, x) in o.args.enumerated() { work.append((x, path + ["<arg \(i)>"], depth + 1)) }
                }
                if let st = o.state { work.append((st, path, depth + 1)) }
                if let d = o.dictItems { work.append((.dict(d), path, depth + 1)) }
                if let l = o.listItems { work.append((.list(l), path, depth + 1)) }
            default:
                break
            }
        }
    }

    /// Whether a value can hold tensors (so unknown objects' plain attributes stay out of the tree).
    private func holdsData(_ v: PickleValue) -> Bool {
        switch v {
        case .tensor, .dict, .list, .tuple, .object: return true
        default: return false
        }
    }

    private func noteDangerous(_ g: GlobalName, path: [String], location: String) {
        guard GlobalPolicy.classify(g) == .dangerous else { return }
        let p = Self.joined(path)
        if !dangerousSites.contains(where: { $0.global == g && $0.path == p }) {
            dangerousSites.append((g, p, location))
        }
    }

    private func emit(_ box: TensorBox, _ path: [String]) throws {
        let name = path.isEmpty ? "tensor" : path.joined(separator: ".")
        let t: Tensor
        do { t = try box.materialize() } catch let e as StoreError {
            throw StoreError(e.code, "\(e.message) (built at \(box.location))", tensor: name)
        }
        try store.insert(t, named: name)
    }

    private func describe(_ box: TensorBox) -> String {
        "tensor \(box.dtype.displayName) [\(box.shape.map(String.init).joined(separator: ", "))]"
    }

    private func leafText(_ v: PickleValue) -> String {
        switch v {
        case .none: return "None"
        case let .bool(b): return b ? "True" : "False"
        case let .int(i): return String(i)
        case let .bigInt(b): return "int (\(b.count * 8)-bit)"
        case let .float(f): return String(f)
        case let .string(s): return s.count > 60 ? "str (\(s.utf8.count) bytes)" : "'\(s)'"
        case let .bytes(b): return "bytes (\(b.count))"
        default: return v.typeName
        }
    }

    static func shortClass(_ c: String) -> String { String(c.split(separator: ".").last ?? Substring(c)) }
}
