import TensorStore

/// The HDF5 layouts Keras and h5py write.
enum KerasLayout: String {
    /// `model.save("x.h5")`: `model_config` at the root, weights under `model_weights/<layer>/…` (Keras 2 and 3).
    case legacyModel = "keras-h5-model"
    /// Keras 2 `save_weights("x.h5")`: the layer groups and `layer_names` directly at the root.
    case legacyWeights = "keras-h5-weights"
    /// Keras 3 `.weights.h5` (also `model.weights.h5` inside a `.keras`): `layers/<name>/vars/<i>`.
    case keras3Weights = "keras3-weights"
    /// Any other HDF5 file (e.g. an h5py-written state dict): datasets only.
    case plain = "hdf5"
}

/// The stored weights of one layer group: the group path, the layer name it belongs to when the file says
/// (legacy group name, or the `name` attribute of a Keras 3 `vars` group), and its dataset paths in Keras order.
/// Kept in `Checkpoint.metadata` so a model description can be built from the checkpoint alone.
struct KerasWeightGroup: Equatable {
    var group: String
    var layer: String?
    var datasets: [String]

    var json: JSONValue {
        .object([
            ("group", .string(group)),
            ("layer", layer.map { .string($0) } ?? .null),
            ("weights", .array(datasets.map { .string($0) })),
        ])
    }

    static func list(from json: JSONValue?, file: String) throws -> [KerasWeightGroup] {
        guard let json else { return [] }
        guard let items = json.arrayValue else {
            throw StoreError(.corrupt, "metadata '\(KerasModelDescription.MetadataKey.weightGroups)' is not a list", file: file)
        }
        return try items.map { item in
            guard let group = item["group"]?.stringValue, let weights = item["weights"]?.arrayValue else {
                throw StoreError(.corrupt, "metadata '\(KerasModelDescription.MetadataKey.weightGroups)' has a malformed entry", file: file)
            }
            return KerasWeightGroup(group: group, layer: item["layer"]?.stringValue, datasets: weights.compactMap(\.stringValue))
        }
    }

    /// The raw tensor name of a dataset path: `/` becomes `.`.
    static func rawName(_ path: String) -> String {
        String(path.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "."))
    }

    /// `kernel` for `dense/kernel:0` or `generator/dense/kernel`.
    static func role(ofPath path: String) -> String {
        var last = path.split(separator: "/").last.map(String.init) ?? path
        if let colon = last.lastIndex(of: ":"), last[last.index(after: colon)...].allSatisfy(\.isNumber) {
            last = String(last[..<colon])
        }
        return last
    }
}

/// Keras 3's name for a saved layer: the snake-cased class name made unique per container (`dense`, `dense_1`).
enum KerasNaming {
    static func snakeCase(_ name: String) -> String {
        // Same result as Keras' to_snake_case: split before an uppercase letter that starts a lowercase run, and
        // between a lowercase letter and an uppercase one.
        let chars = Array(name.filter { $0.isLetter || $0.isNumber || $0 == "_" })
        var out = ""
        for (i, ch) in chars.enumerated() {
            if i > 0, ch.isUppercase {
                let prev = chars[i - 1]
                let nextIsLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if prev.isLowercase || nextIsLower { out += "_" }
            }
            out += ch.lowercased()
        }
        return out
    }

    /// Group names for a container's children in order.
    static func uniqueNames(_ classNames: [String]) -> [String] {
        var used: [String: Int] = [:]
        return classNames.map { c in
            let base = snakeCase(c)
            if let n = used[base] {
                used[base] = n + 1
                return "\(base)_\(n + 1)"
            }
            used[base] = 0
            return base
        }
    }
}
