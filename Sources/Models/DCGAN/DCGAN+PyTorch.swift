import Checkpoints
import Engine
import TensorStore

/// DCGAN generators saved as PyTorch state dicts: pytorch/examples (`main.N`), the seed layout (`net.N`), bare
/// `nn.Sequential` (`N.`), nested blocks (`gen.i.j`), optionally behind a wrapper key, with an optional class
/// embedding concatenated to z (`label_embed`, `label_emb`). The stack is inferred from shapes with the
/// standard DCGAN geometry: first ConvTranspose2d stride 1 padding 0, then kernel 4 stride 2 padding 1, each
/// followed by BatchNorm2d + ReLU, the last by Tanh. Anything else needs `--arch`.
public enum DCGANPyTorchMapper: CheckpointMapper {
    public static let name = "dcgan-pytorch"

    struct Module {
        var path: String
        var weight: Tensor
        var isNorm: Bool
    }

    /// The generator's modules in order, the embedding, and the ignorable names; nil when the file is not a DCGAN.
    static func analyse(_ checkpoint: Checkpoint) -> (modules: [Module], embedding: (String, Tensor)?)? {
        let formats: Set<CheckpointFormat> = [.torchZip, .torchLegacy, .torchTar, .pickle, .safetensors]
        guard formats.contains(checkpoint.format) else { return nil }
        let store = checkpoint.tensors
        guard !store.metadata.keys.contains(CanonicalMetadata.architecture) else { return nil }
        var modules: [Module] = []
        var embedding: (String, Tensor)?
        for name in store.names where name.hasSuffix(".weight") {
            let path = String(name.dropLast(".weight".count))
            guard let w = store[name] else { continue }
            let last = path.split(separator: ".").last.map(String.init) ?? path
            if w.rank == 2, last.lowercased().contains("emb") {
                if embedding != nil { return nil }
                embedding = (name, w)
            } else if w.rank == 4 {
                modules.append(Module(path: path, weight: w, isNorm: false))
            } else if w.rank == 1, store[path + ".running_mean"] != nil {
                modules.append(Module(path: path, weight: w, isNorm: true))
            } else {
                return nil
            }
        }
        // Natural order of the module paths (main.2 before main.10).
        modules.sort { naturalOrder($0.path, $1.path) }
        guard let first = modules.first, !first.isNorm, !(modules.last?.isNorm ?? true) else { return nil }
        // Channel chaining: ConvTranspose2d [in, out, k, k], each followed by at most one BatchNorm2d(out).
        var channels = first.weight.shape[0]
        var previousNorm = true
        for m in modules {
            if m.isNorm {
                guard !previousNorm, m.weight.shape[0] == channels else { return nil }
            } else {
                guard m.weight.shape[0] == channels, m.weight.shape[2] == m.weight.shape[3] else { return nil }
                channels = m.weight.shape[1]
            }
            previousNorm = m.isNorm
        }
        return (modules, embedding)
    }

    /// Dotted paths compared component by component, numbers numerically (`main.2` before `main.10`).
    static func naturalOrder(_ a: String, _ b: String) -> Bool {
        let x = a.split(separator: "."), y = b.split(separator: ".")
        for (p, q) in zip(x, y) where p != q {
            if let i = Int(p), let j = Int(q) { return i < j }
            return p < q
        }
        return x.count < y.count
    }

    public static func recognises(_ checkpoint: Checkpoint, options: MapperOptions) -> Bool {
        analyse(checkpoint) != nil
    }

    public static func load(_ checkpoint: Checkpoint, options: MapperOptions) throws -> Generator {
        guard let (modules, embedding) = analyse(checkpoint) else {
            throw ModelError("not a DCGAN generator state dict", file: checkpoint.path)
        }
        let store = checkpoint.tensors
        var b = SequentialBuilder()
        var classes = 0
        var inC = modules[0].weight.shape[0]
        var zDim = inC
        if let (name, e) = embedding {
            classes = e.shape[0]
            zDim = inC - e.shape[1]
            guard zDim > 0 else { throw ModelError("embedding \(e.shape) is wider than the first layer's input \(inC)", file: checkpoint.path) }
            b.append(.embedConcat(classes: classes, dim: e.shape[1], zFirst: true)) { _, _ in .raw(name) }
        }
        var owned: Set<String> = Set(embedding.map { [$0.0] } ?? [])
        var firstConv = true
        for (i, m) in modules.enumerated() {
            func raw(_ suffix: String, _ index: Int) -> ParameterResolution? {
                let name = m.path + "." + suffix
                guard store[name] != nil else { return nil }
                owned.insert(name)
                return .raw(name)
            }
            if m.isNorm {
                owned.insert(m.path + ".num_batches_tracked")
                b.append(.batchNorm(features: m.weight.shape[0], eps: 1e-5, hasWeight: true, hasBias: store[m.path + ".bias"] != nil), source: raw)
                b.append(.activation(.relu))
                continue
            }
            let k = m.weight.shape[2]
            let (stride, padding): (Int, Int)
            if firstConv {
                (stride, padding) = (1, 0)
            } else if k == 4 {
                (stride, padding) = (2, 1)
            } else {
                throw ModelError("layer '\(m.path)' has a \(k)×\(k) kernel: not the standard DCGAN geometry (4×4, stride 2, padding 1); describe the layers with --arch FILE.json (Formats/arch-json.md)",
                                 file: checkpoint.path)
            }
            firstConv = false
            b.append(.convTranspose2d(inChannels: inC, outChannels: m.weight.shape[1], kernel: k, stride: stride,
                                      padding: .symmetric(padding), outputPadding: 0, bias: store[m.path + ".bias"] != nil), source: raw)
            inC = m.weight.shape[1]
            if i == modules.count - 1 { b.append(.activation(.tanh)) }
        }
        let config = SequentialConfig(zDim: zDim, classes: classes, layers: b.layers, outputRange: .minusOneToOne, origin: "pytorch")
        let names = owned
        let prefixes = Set(modules.map { $0.path.split(separator: ".").first.map(String.init) ?? "" })
        return try b.build(config: config, checkpoint: checkpoint, source: layoutName(modules),
                           owns: { n in names.contains(n) || prefixes.contains(n.split(separator: ".").first.map(String.init) ?? "") },
                           ignorable: { $0.hasSuffix("num_batches_tracked") })
    }

    static func layoutName(_ modules: [Module]) -> String {
        let head = modules.first?.path.split(separator: ".").first.map(String.init) ?? ""
        if head == "main" { return "pytorch-examples" }
        if Int(head) != nil { return "pytorch-sequential" }
        return "pytorch-\(head)"
    }
}
