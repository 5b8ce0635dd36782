import TensorStore

/// Module-like objects of a pickle seen as a state_dict would see them: NVlabs `torch_utils.persistence`
/// records, whole pickled `torch.nn` modules, and TF-era `dnnlib.tflib.network.Network` states.
/// `module_src` / `build_module_src` are never read beyond being text. See Formats/nvlabs-pickle.md.
struct ModuleNode {
    enum Source: String {
        case persistence = "torch_utils.persistence"
        case pickledModule = "pickled module"
    }

    var className: String
    var source: Source
    /// The module `__dict__`.
    var state: PickleDict

    /// A module record or a pickled module, if `v` is one.
    static func of(_ v: PickleValue) -> ModuleNode? {
        guard case let .object(o) = v, !o.dangerous else { return nil }
        switch o.kind {
        case .persistentModule:
            guard case let .dict(meta)? = o.args.first, case let .dict(state)? = meta["state"] else { return nil }
            let name = meta["class_name"]?.stringValue ?? "<unnamed>"
            return ModuleNode(className: name, source: .persistence, state: state)
        case .opaque:
            guard let state = o.attributeDict, state["_parameters"] != nil || state["_modules"] != nil else { return nil }
            return ModuleNode(className: o.className, source: .pickledModule, state: state)
        default:
            return nil
        }
    }

    /// Parameters, then persistent buffers, then submodules, in the order `state_dict()` names them.
    var members: [(name: String, value: PickleValue, role: String)] {
        var out: [(String, PickleValue, String)] = []
        var nonPersistent = Set<String>()
        if case let .set(s)? = state["_non_persistent_buffers_set"] {
            for case let .string(n) in s.items { nonPersistent.insert(n) }
        }
        for (field, role) in [("_parameters", "parameter"), ("_buffers", "buffer"), ("_modules", "module")] {
            guard let d = state[field]?.dictValue else { continue }
            for (k, v) in d.items {
                if case .none = v { continue }
                guard let name = k.stringValue else { continue }
                if role == "buffer" && nonPersistent.contains(name) { continue }
                out.append((name, v, role))
            }
        }
        return out
    }

    var initKwargs: PickleValue? { state["_init_kwargs"] }
    var initArgs: PickleValue? { state["_init_args"] }

    func submodule(_ name: String) -> ModuleNode? {
        guard let d = state["_modules"]?.dictValue, let v = d[name] else { return nil }
        return ModuleNode.of(v)
    }

    var submoduleNames: [String] {
        guard let d = state["_modules"]?.dictValue else { return [] }
        return d.keys.compactMap(\.stringValue)
    }
}

/// A TF-era `dnnlib.tflib.network.Network`: NEWOBJ + BUILD(state) with `name`, `static_kwargs`, `components`,
/// `variables` (a list of `(tf_name, numpy value)`), `build_module_src` (ignored), `build_func_name`, `version`.
struct TFNetworkNode {
    var state: PickleDict

    static func of(_ v: PickleValue) -> TFNetworkNode? {
        guard case let .object(o) = v, o.kind == .tfNetwork, !o.dangerous, let st = o.attributeDict else { return nil }
        return TFNetworkNode(state: st)
    }

    var name: String? { state["name"]?.stringValue }
    var version: Int? { state["version"]?.intValue }
    var buildFuncName: String? { state["build_func_name"]?.stringValue }

    var variables: [(name: String, value: PickleValue)] {
        guard let seq = state["variables"]?.sequence else { return [] }
        return seq.compactMap { item in
            guard let pair = item.sequence, pair.count == 2, let n = pair[0].stringValue else { return nil }
            return (n, pair[1])
        }
    }

    var components: [(name: String, value: PickleValue)] {
        guard let d = state["components"]?.dictValue else { return [] }
        return d.items.compactMap { k, v in k.stringValue.map { ($0, v) } }
    }
}
