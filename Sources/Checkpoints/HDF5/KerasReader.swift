import TensorStore

/// Reads HDF5 weight files (Keras 2/3 whole-model `.h5`, weights-only `.h5`, Keras 3 `.weights.h5`, plain h5py
/// files) and `.keras` archives into raw checkpoints. Raw names are dataset paths with `/` replaced by `.`.
/// The model config, Keras version and backend go into the metadata; the parsed layer list into the tree and
/// the hints (see `KerasModelDescription`).
public enum KerasReader {
    public static func readHDF5(path: String, options: LoadOptions) throws -> Checkpoint {
        let h5 = try HDF5File(path: path)
        return try read(h5, path: path, format: .hdf5, options: options, archive: nil)
    }

    public static func readArchive(zip: ZipArchive, path: String, options: LoadOptions) throws -> Checkpoint {
        guard let member = zip.entry("model.weights.h5") else {
            throw StoreError(.notFound, ".keras archive has no model.weights.h5", file: path)
        }
        let archive = try ArchiveParts(zip: zip, path: path)
        let storage: Storage
        do { storage = try zip.storage(for: member, maxInflatedBytes: options.maxInflatedBytes) } catch let e as StoreError {
            throw e.at(file: path)
        }
        let h5 = try HDF5File(image: storage, source: "\(path) (model.weights.h5)")
        return try read(h5, path: path, format: .kerasArchive, options: options, archive: archive)
    }

    /// The JSON members of a `.keras` archive.
    struct ArchiveParts {
        var config: JSONValue?
        var metadata: JSONValue?

        init(zip: ZipArchive, path: String) throws {
            func json(_ name: String) throws -> JSONValue? {
                guard let e = zip.entry(name) else { return nil }
                let data: Storage
                do { data = try zip.data(for: e, maxInflatedBytes: HDF5File.maxAttributeBytes) } catch let err as StoreError {
                    throw err.at(file: path)
                }
                do { return try JSONValue.parse(data.bytes) } catch let err as JSONValue.ParseError {
                    throw StoreError(.corrupt, ".keras member \(name): \(err)", file: path)
                }
            }
            config = try json("config.json")
            metadata = try json("metadata.json")
        }
    }

    // MARK: Common path

    private static func read(_ h5: HDF5File, path: String, format: CheckpointFormat, options: LoadOptions,
                             archive: ArchiveParts?) throws -> Checkpoint {
        var warnings: [String] = []
        var hints: [String] = []
        var metadata: [(String, JSONValue)] = []
        typealias Key = KerasModelDescription.MetadataKey

        // Layout and the weight groups it declares.
        let layout = try detectLayout(h5)
        let allDatasets = try h5.datasetPaths()
        var groups: [KerasWeightGroup] = []
        switch layout {
        case .legacyModel: groups = try legacyGroups(h5, root: "model_weights")
        case .legacyWeights: groups = try legacyGroups(h5, root: "")
        case .keras3Weights: groups = try keras3Groups(h5, datasets: allDatasets)
        case .plain: break
        }

        // Tensors: the Keras weights in Keras order first, then every other dataset in file order.
        var ordered: [String] = []
        var seen = Set<String>()
        for p in groups.flatMap(\.datasets) + allDatasets where seen.insert(p).inserted { ordered.append(p) }
        var store = TensorStore()
        var budget = HDF5ReadBudget(maxBytes: options.maxInflatedBytes)
        for p in ordered {
            let raw = KerasWeightGroup.rawName(p)
            switch try h5.readDataset(p, budget: &budget) {
            case let .tensor(t):
                do { try store.insert(t, named: raw) } catch let e as StoreError {
                    throw StoreError(.corrupt, "two datasets map to the raw name '\(raw)' (a name holds '.')", file: path, tensor: e.tensor)
                }
            case let .skipped(reason):
                warnings.append("skipped /\(p): \(reason)")
            }
        }

        // Metadata: Keras version and backend, the model config, the layout and its weight groups.
        var config: JSONValue? = archive?.config
        var kerasVersion = archive?.metadata?["keras_version"]?.stringValue
        var backend: String? = nil
        if layout != .keras3Weights || archive == nil {
            for where_ in layout == .legacyModel ? ["", "model_weights"] : [""] {
                if kerasVersion == nil { kerasVersion = try h5.stringAttribute("keras_version", of: where_) }
                if backend == nil { backend = try h5.stringAttribute("backend", of: where_) }
            }
            if config == nil, let text = try h5.stringAttribute("model_config", of: "") {
                do { config = try JSONValue.parse(text) } catch {
                    warnings.append("model_config attribute is not valid JSON (\(error)); the architecture is ignored")
                }
            }
        }
        if let kerasVersion { metadata.append((Key.kerasVersion, .string(kerasVersion))) }
        if let backend { metadata.append((Key.backend, .string(backend))) }
        if let config { metadata.append((Key.modelConfig, config)) }
        if let training = try? h5.stringAttribute("training_config", of: ""), let json = try? JSONValue.parse(training) {
            metadata.append(("training_config", json))
        }
        if let m = archive?.metadata { metadata.append(("keras_metadata", m)) }
        metadata.append((Key.layout, .string(layout.rawValue)))
        if layout != .plain { metadata.append((Key.weightGroups, .array(groups.map(\.json)))) }

        hints.append(layoutHint(layout, format: format, version: kerasVersion))
        var checkpoint = Checkpoint(path: path, format: format, tensors: store, metadata: metadata, warnings: warnings, hints: hints)

        // The layer list: parsed from the config when one is stored, else the stored weight groups.
        if config != nil {
            do {
                let description = try KerasModelDescription(checkpoint: checkpoint)
                checkpoint.tree = description.tree
                checkpoint.hints.append(description.heading)
                checkpoint.hints += description.layerLines
            } catch let e as StoreError {
                checkpoint.warnings.append("model description unavailable: \(e.message)")
                if let c = config, let model = try? KerasConfigParser.model(c, file: path) {
                    checkpoint.tree = CheckpointTree("Keras \(model.className) (unparsed)", children: model.entries.map {
                        CheckpointTree("\($0.name): \($0.className)")
                    })
                    checkpoint.hints += model.entries.enumerated().map { "layer \($0): \($1.name): \($1.className)" }
                }
            }
        } else if layout != .plain {
            checkpoint.warnings.append("no architecture is stored in this file (weights only); the model must be rebuilt in code")
            let lines = groups.filter { !$0.datasets.isEmpty }.map { g -> String in
                let ws = g.datasets.map { p -> String in
                    let shape = store[KerasWeightGroup.rawName(p)]?.shape ?? []
                    return KerasWeightGroup.role(ofPath: p) + " " + KerasFormat.list(shape)
                }
                return "weights of /\(g.group)\(g.layer.map { " (layer \($0))" } ?? ""): " + ws.joined(separator: ", ")
            }
            checkpoint.hints += lines
            checkpoint.tree = CheckpointTree("Keras weight groups (no architecture stored)", children: groups.map { g in
                CheckpointTree("/" + g.group + (g.layer.map { " (layer \($0))" } ?? ""), children: g.datasets.map { p in
                    CheckpointTree(KerasWeightGroup.rawName(p) + " " + KerasFormat.list(store[KerasWeightGroup.rawName(p)]?.shape ?? []))
                })
            })
        }
        return checkpoint
    }

    private static func layoutHint(_ layout: KerasLayout, format: CheckpointFormat, version: String?) -> String {
        let v = version.map { " \($0)" } ?? ""
        switch layout {
        case .legacyModel: return "Keras\(v) whole-model HDF5 (model_config + model_weights)"
        case .legacyWeights: return "Keras\(v) weights-only HDF5 (layer groups at the root)"
        case .keras3Weights:
            return format == .kerasArchive ? "Keras\(v) .keras archive (config.json + model.weights.h5)"
                : "Keras 3\(v.isEmpty ? "" : " (\(v.dropFirst()))") .weights.h5 (layers/<name>/vars/<i>)"
        case .plain: return "plain HDF5 file (no Keras layout)"
        }
    }

    static func detectLayout(_ h5: HDF5File) throws -> KerasLayout {
        if h5.objectType("model_weights") == .group, try h5.kerasStringList("layer_names", of: "model_weights") != nil {
            return .legacyModel
        }
        if try h5.kerasStringList("layer_names", of: "") != nil { return .legacyWeights }
        if h5.objectType("layers") == .group || h5.objectType("_layer_checkpoint_dependencies") == .group {
            return .keras3Weights
        }
        return .plain
    }

    /// Legacy layout: `layer_names` on the weights root, `weight_names` on each layer group, dataset paths
    /// relative to the layer group. A listed layer or weight that does not exist is an error.
    static func legacyGroups(_ h5: HDF5File, root: String) throws -> [KerasWeightGroup] {
        let names = try h5.kerasStringList("layer_names", of: root) ?? []
        var out: [KerasWeightGroup] = []
        for layer in names {
            let group = HDF5File.join(root, layer)
            guard h5.objectType(group) == .group else {
                throw StoreError(.notFound, "layer '\(layer)' is listed in layer_names but /\(group) is not a group", file: h5.source)
            }
            guard let weightNames = try h5.kerasStringList("weight_names", of: group) else {
                throw StoreError(.corrupt, "layer group /\(group) has no weight_names attribute", file: h5.source)
            }
            var datasets: [String] = []
            for w in weightNames {
                let p = HDF5File.join(group, w)
                guard h5.objectType(p) == .dataset else {
                    throw StoreError(.notFound, "weight '\(w)' of layer '\(layer)' is listed in weight_names but /\(p) is not a dataset", file: h5.source, tensor: KerasWeightGroup.rawName(p))
                }
                datasets.append(p)
            }
            out.append(KerasWeightGroup(group: group, layer: layer, datasets: datasets))
        }
        return out
    }

    /// Keras 3 layout: every `layers/…/<prefix>/vars/<i>` dataset belongs to the group `<prefix>`, in index order; the
    /// `vars` group's `name` attribute (recent Keras) gives the layer name.
    static func keras3Groups(_ h5: HDF5File, datasets: [String]) throws -> [KerasWeightGroup] {
        var order: [String] = []
        var members: [String: [(Int, String)]] = [:]
        for p in datasets {
            let parts = p.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            guard parts.count >= 2, parts[parts.count - 2] == "vars", let index = Int(parts[parts.count - 1]) else { continue }
            let prefix = parts.dropLast(2).joined(separator: "/")
            // Layer variables live under layers/ (Keras 2.13: _layer_checkpoint_dependencies/); optimizer/,
            // metrics and the model's own vars are not layer weights (they stay raw tensors).
            guard prefix.hasPrefix("layers/") || prefix.hasPrefix("_layer_checkpoint_dependencies/") else { continue }
            if members[prefix] == nil { order.append(prefix) }
            members[prefix, default: []].append((index, p))
        }
        // Weightless layers still have (empty) vars groups in recent Keras; list them too.
        for prefix in try emptyVarsGroups(h5, under: "layers") where members[prefix] == nil {
            order.append(prefix)
            members[prefix] = []
        }
        return try order.map { prefix in
            let vars = HDF5File.join(prefix, "vars")
            let name = try h5.stringAttribute("name", of: vars)
            return KerasWeightGroup(group: prefix, layer: name, datasets: members[prefix]!.sorted { $0.0 < $1.0 }.map(\.1))
        }
    }

    private static func emptyVarsGroups(_ h5: HDF5File, under root: String) throws -> [String] {
        guard h5.objectType(root) == .group else { return [] }
        return try h5.children(of: root).filter { $0.type == .group }.compactMap { c in
            let p = HDF5File.join(root, c.name)
            return h5.objectType(HDF5File.join(p, "vars")) == .group ? p : nil
        }
    }
}
