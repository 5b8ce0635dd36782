import Checkpoints
import TensorStore

/// Reading a StyleGAN2 configuration off tensor shapes (shared by the NVlabs and rosinality mappers).
struct StyleGAN2ShapeReader {
    let file: String
    /// Canonical name → shape in the source, given by the mapper's resolver.
    let shape: (String) -> [Int]?

    func require(_ name: String, rank: Int) throws -> [Int] {
        guard let s = shape(name), s.count == rank else {
            throw ModelError("expected a rank-\(rank) tensor for '\(name)'", file: file)
        }
        return s
    }

    /// Infers everything the tensors tell; kwargs fill in what they do not (architecture, clamp, lr, filter).
    func config(architecture kwArchitecture: String?, convClamp: Float?, mappingLR: Float?, resampleFilter: [Float]?) throws -> StyleGAN2Config {
        let const = try require("synthesis.b4.const", rank: 3)
        var resolutions = [4]
        while shape("synthesis.b\(resolutions.last! * 2).conv1.weight") != nil { resolutions.append(resolutions.last! * 2) }
        let res = resolutions.last!
        var channels: [Int: Int] = [4: const[0]]
        for r in resolutions where r > 4 { channels[r] = try require("synthesis.b\(r).conv1.weight", rank: 4)[0] }
        var layers = 0
        while shape("mapping.fc\(layers).weight") != nil { layers += 1 }
        guard layers > 0 else { throw ModelError("no mapping layers (mapping.fc0.weight)", file: file) }
        let fc0 = try require("mapping.fc0.weight", rank: 2)
        let last = try require("mapping.fc\(layers - 1).weight", rank: 2)
        var cDim = 0, embedFeatures = last[0]
        if let e = shape("mapping.embed.weight") {
            guard e.count == 2 else { throw ModelError("mapping.embed.weight must be 2-D", file: file) }
            cDim = e[1]
            embedFeatures = e[0]
        }
        let zDim = fc0[1] - (cDim > 0 ? embedFeatures : 0)
        let rgb = try require("synthesis.b\(res).torgb.weight", rank: 4)
        let architecture: StyleGAN2Config.Architecture
        if let a = kwArchitecture, let parsed = StyleGAN2Config.Architecture(rawValue: a) {
            architecture = parsed
        } else if res > 4 && shape("synthesis.b\(res).skip.weight") != nil {
            architecture = .resnet
        } else if res > 4 && shape("synthesis.b4.torgb.weight") == nil {
            architecture = .orig
        } else {
            architecture = .skip
        }
        let config = StyleGAN2Config(zDim: zDim, cDim: cDim, wDim: last[0], imgResolution: res, imgChannels: rgb[0],
                                     mappingLayers: layers, mappingFeatures: layers > 1 ? fc0[0] : last[0], embedFeatures: embedFeatures,
                                     mappingLRMultiplier: mappingLR ?? 0.01, channels: channels, architecture: architecture,
                                     convClamp: convClamp, resampleFilter: resampleFilter ?? [1, 3, 3, 1])
        do { try config.validate() } catch let e as ModelError { throw e.at(file: file) }
        return config
    }
}
