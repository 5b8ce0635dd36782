import Checkpoints
import TensorStore

/// Collects a sequential config and, per canonical parameter, the raw tensor and transform that answer it;
/// shared by the Keras, DCGAN and `--arch` mappers.
struct SequentialBuilder {
    var layers: [SequentialLayer] = []
    var resolutions: [String: ParameterResolution] = [:]

    /// Appends a layer; `source(suffix, index)` names the raw tensor of each of its parameters.
    mutating func append(_ layer: SequentialLayer, source: (String, Int) -> ParameterResolution?) {
        let i = layers.count
        layers.append(layer)
        for (k, (suffix, _)) in layer.parameterShapes.enumerated() {
            if let r = source(suffix, k) { resolutions["layers.\(i).\(suffix)"] = r }
        }
    }

    mutating func append(_ layer: SequentialLayer) { append(layer) { _, _ in nil } }

    /// Binds and builds the generator. `owns` says which raw names belong to it (for "unexpected" reports).
    func build(config: SequentialConfig, checkpoint: Checkpoint, source: String,
               owns: @escaping (String) -> Bool, ignorable: @escaping (String) -> Bool = { _ in false }) throws -> SequentialGenerator {
        let resolutions = self.resolutions
        let mapping = ParameterMapping(resolve: { resolutions[$0] }, owns: owns, ignorable: ignorable)
        let binder = ParameterBinder(raw: checkpoint.tensors, mapping: mapping, architecture: SequentialGenerator.architecture,
                                     file: checkpoint.path)
        return try SequentialGenerator(config: config, params: binder, source: source)
    }
}
