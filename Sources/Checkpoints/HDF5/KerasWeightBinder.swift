import TensorStore

/// Binds config layers to stored weight groups, and each stored weight to its Keras role, then checks shapes
/// against the layer's hyper-parameters.
struct KerasWeightBinder {
    let file: String
    let tensors: TensorStore
    let groups: [KerasWeightGroup]
    /// Keras 3 `vars/<i>` files: roles come from the variable index only.
    let byVariableIndex: Bool

    func bind(entries: [KerasConfigParser.Entry], kinds: [KerasLayerKind]) throws -> [[KerasWeight]] {
        let groupFor = try assignGroups(entries: entries, kinds: kinds)
        var used = Set<String>()
        var out: [[KerasWeight]] = []
        for (i, e) in entries.enumerated() {
            let roles = kinds[i].weightRoles
            let stored = groupFor[i]?.datasets ?? []
            if let g = groupFor[i] { used.insert(g.group) }
            let paths = try order(stored, roles: roles, layer: e)
            var weights: [KerasWeight] = []
            for (role, path) in zip(roles, paths) {
                let raw = KerasWeightGroup.rawName(path)
                guard let t = tensors[raw] else {
                    throw StoreError(.notFound, "Keras layer '\(e.name)': its \(role) dataset '/\(path)' is missing", file: file, tensor: raw)
                }
                weights.append(KerasWeight(role: role, rawName: raw, shape: t.shape))
            }
            try checkShapes(weights, kind: kinds[i], layer: e)
            out.append(weights)
        }
        if let stray = groups.first(where: { !$0.datasets.isEmpty && !used.contains($0.group) }) {
            throw StoreError(.corrupt, "stored weight group '/\(stray.group)' (\(stray.datasets.count) weights) matches no layer of the model config", file: file)
        }
        return out
    }

    /// The stored group of each layer: legacy files name groups after layers; Keras 3 files use the `vars`
    /// group's `name` attribute when it matches, else Keras' class-derived names (`conv2d_transpose_1`),
    /// counted with or without the InputLayers.
    private func assignGroups(entries: [KerasConfigParser.Entry], kinds: [KerasLayerKind]) throws -> [KerasWeightGroup?] {
        let byGroup = Dictionary(groups.map { ($0.group, $0) }, uniquingKeysWith: { a, _ in a })
        var strategies: [[KerasWeightGroup?]] = []
        let byLayer = Dictionary(groups.compactMap { g in g.layer.map { ($0, g) } }, uniquingKeysWith: { a, _ in a })
        strategies.append(entries.map { byLayer[$0.name] })
        if byVariableIndex {
            let prefix = commonPrefix()
            let noInputs = entries.filter { $0.className != "InputLayer" }
            var names = KerasNaming.uniqueNames(noInputs.map(\.className)).makeIterator()
            strategies.append(entries.map { e in
                e.className == "InputLayer" ? nil : names.next().flatMap { byGroup[prefix + $0] }
            })
            let all = KerasNaming.uniqueNames(entries.map(\.className))
            strategies.append(all.map { byGroup[prefix + $0] })
        }
        for s in strategies where fits(s, kinds: kinds) { return s }
        // No strategy fits: report the first weighted layer without a group of the right size.
        let best = strategies[byVariableIndex && strategies.count > 1 ? 1 : 0]
        for (i, e) in entries.enumerated() {
            let want = kinds[i].weightRoles.count
            let have = best[i]?.datasets.count ?? 0
            if want != have {
                let g = best[i].map { "group '/\($0.group)' stores \(have)" } ?? "no stored weight group matches it"
                throw StoreError(.corrupt, "Keras layer '\(e.name)' (\(e.className)) needs \(want) weights (\(kinds[i].weightRoles.joined(separator: ", "))) but \(g)", file: file)
            }
        }
        let used = Set(best.compactMap { $0?.group })
        if let stray = groups.first(where: { !$0.datasets.isEmpty && !used.contains($0.group) }) {
            throw StoreError(.corrupt, "stored weight group '/\(stray.group)' (\(stray.datasets.count) weights) matches no layer of the model config", file: file)
        }
        throw StoreError(.corrupt, "the stored weight groups do not match the layers of the model config", file: file)
    }

    private func fits(_ s: [KerasWeightGroup?], kinds: [KerasLayerKind]) -> Bool {
        var used = Set<String>()
        for (i, k) in kinds.enumerated() {
            if (s[i]?.datasets.count ?? 0) != k.weightRoles.count { return false }
            if let g = s[i] { used.insert(g.group) }
        }
        return groups.allSatisfy { $0.datasets.isEmpty || used.contains($0.group) }
    }

    /// `layers/` (or whatever container path the weighted groups share).
    private func commonPrefix() -> String {
        guard let first = groups.first?.group, let slash = first.lastIndex(of: "/") else { return "" }
        return String(first[...slash])
    }

    /// The stored paths in role order: by the name of each dataset when the names are the roles (legacy
    /// `kernel:0`, `generator/dense/bias`), else by position.
    private func order(_ stored: [String], roles: [String], layer: KerasConfigParser.Entry) throws -> [String] {
        guard stored.count == roles.count else {
            throw StoreError(.corrupt, "Keras layer '\(layer.name)' (\(layer.className)) needs \(roles.count) weights (\(roles.joined(separator: ", "))) but the file stores \(stored.count)", file: file)
        }
        if byVariableIndex { return stored }
        let named = Dictionary(stored.map { (KerasWeightGroup.role(ofPath: $0), $0) }, uniquingKeysWith: { a, _ in a })
        if Set(named.keys) == Set(roles) { return roles.map { named[$0]! } }
        return stored
    }

    private func checkShapes(_ w: [KerasWeight], kind: KerasLayerKind, layer: KerasConfigParser.Entry) throws {
        func fail(_ m: String) -> StoreError {
            StoreError(.corrupt, "Keras layer '\(layer.name)' (\(layer.className)): \(m)", file: file)
        }
        func shape(_ role: String) -> [Int]? { w.first { $0.role == role }?.shape }
        switch kind {
        case let .dense(c):
            guard let k = shape("kernel"), k.count == 2, k[1] == c.units else {
                throw fail("kernel shape \(shape("kernel") ?? []) is not (inputs, \(c.units))")
            }
            if c.useBias, shape("bias") != [c.units] { throw fail("bias shape \(shape("bias") ?? []) is not (\(c.units))") }
        case let .conv2D(c), let .conv2DTranspose(c):
            let transposed: Bool
            if case .conv2DTranspose = kind { transposed = true } else { transposed = false }
            guard let k = shape("kernel"), k.count == 4, Array(k[0..<2]) == c.kernelSize,
                  k[transposed ? 2 : 3] == c.filters else {
                let layout = transposed ? "(kh, kw, \(c.filters), in)" : "(kh, kw, in, \(c.filters))"
                throw fail("kernel shape \(shape("kernel") ?? []) does not match kernel_size \(c.kernelSize) and \(layout)")
            }
            if c.useBias, shape("bias") != [c.filters] { throw fail("bias shape \(shape("bias") ?? []) is not (\(c.filters))") }
        case .batchNormalization:
            let shapes = w.map(\.shape)
            guard let first = shapes.first, first.count == 1, shapes.allSatisfy({ $0 == first }) else {
                throw fail("parameters are not vectors of one length: \(shapes)")
            }
        default:
            break
        }
    }
}
