import Foundation
import Testing
@testable import GANKit

/// Every bundled fixture loads from the file alone (or with its --arch description), matches its golden,
/// and is rejected when the golden is perturbed.
@Suite struct FamilyParityTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var checkpoint: String
        var golden: String
        var arch: String?
        var architecture: String
        var source: String
        var testDescription: String { checkpoint }
    }

    static let cases: [Case] = [
        Case(checkpoint: "dcgan-seed-64.pth", golden: "dcgan-seed-64.golden.npz", architecture: "sequential", source: "pytorch-net"),
        Case(checkpoint: "keras-dcgan-16.h5", golden: "keras-dcgan-16.golden.npz", architecture: "sequential", source: "keras"),
        Case(checkpoint: "keras-dcgan-16.keras", golden: "keras-dcgan-16.golden.npz", architecture: "sequential", source: "keras"),
        Case(checkpoint: "keras-dcgan-16.weights.h5", golden: "keras-dcgan-16.golden.npz", arch: "keras-dcgan-16.weights.arch.json",
             architecture: "sequential", source: "keras-weights+arch"),
        Case(checkpoint: "sg2-skip-32-uncond.pkl", golden: "sg2-skip-32-uncond.golden.npz", architecture: "stylegan2", source: "nvlabs"),
        Case(checkpoint: "sg2-skip-16-cond.pkl", golden: "sg2-skip-16-cond.golden.npz", architecture: "stylegan2", source: "nvlabs"),
        Case(checkpoint: "ros-sg2-16.pt", golden: "ros-sg2-16.golden.npz", architecture: "stylegan2", source: "rosinality"),
        Case(checkpoint: "realweights/torch_dcgan_mnist_ryhan.pth", golden: "realweights/torch_dcgan_mnist_ryhan.golden.npz",
             arch: "realweights/torch_dcgan_mnist_ryhan.arch.json", architecture: "sequential", source: "state-dict+arch"),
        Case(checkpoint: "realweights/torch_cwgangp_mnist_hayato.pth", golden: "realweights/torch_cwgangp_mnist_hayato.golden.npz",
             arch: "realweights/torch_cwgangp_mnist_hayato.arch.json", architecture: "sequential", source: "state-dict+arch"),
    ]

    func options(_ c: Case) throws -> MapperOptions {
        try c.arch.map { try MapperOptions.architectureFile(ModelFixtures.path($0)) } ?? MapperOptions()
    }

    func load(_ c: Case) throws -> GeneratorLoader.Loaded {
        try GeneratorLoader.load(path: ModelFixtures.path(c.checkpoint), options: options(c))
    }

    @Test(arguments: cases) func matchesItsGolden(_ c: Case) throws {
        let loaded = try load(c)
        #expect(loaded.generator.architecture == c.architecture)
        #expect(loaded.generator.source == c.source)
        let golden = try Golden.read(path: ModelFixtures.path(c.golden))
        let report = try Verifier.verify(loaded.generator, golden: golden)
        #expect(report.passed, "\(report.text(checkpoint: c.checkpoint, golden: c.golden))")
        for comparison in report.comparisons { #expect(comparison.relativeError <= 1e-4) }

        // The same golden with one pixel moved by 5% of its range must fail.
        #expect(!(try Verifier.verify(loaded.generator, golden: goldenWithOnePixelMoved(golden))).passed)
    }

    @Test(arguments: cases) func canonicalConversionGivesTheSameModel(_ c: Case) throws {
        let loaded = try load(c)
        try withCanonicalCopy(of: loaded.checkpoint, options: options(c)) { result, reloaded in
            #expect(result.sourceSHA256 == (try SHA256.hexDigest(ofFile: ModelFixtures.path(c.checkpoint))))
            #expect(reloaded.generator.architecture == loaded.generator.architecture)
            #expect(reloaded.generator.config == loaded.generator.config)
            let golden = try Golden.read(path: ModelFixtures.path(c.golden))
            let inputs = try golden.inputs(classes: loaded.generator.cDim)
            let a = try loaded.generator.generate(inputs).image.floats()
            let b = try reloaded.generator.generate(inputs).image.floats()
            #expect(a == b)
        }
    }
}

@Suite struct MapperTests {
    @Test func dcganStackIsInferredFromShapes() throws {
        let loaded = try GeneratorLoader.load(path: ModelFixtures.path("dcgan-seed-64.pth"))
        let g = try #require(loaded.generator as? SequentialGenerator)
        #expect(loaded.mapper == DCGANPyTorchMapper.name)
        #expect(g.zDim == 100 && g.imageShape == [3, 64, 64])
        let convs = g.sequentialConfig.layers.compactMap { l -> (Int, Int)? in
            if case let .convTranspose2d(_, _, _, s, p, _, _) = l, case let .explicit(t, _, _, _) = p { return (s, t) }
            return nil
        }
        #expect(convs.map(\.0) == [1, 2, 2, 2, 2])
        #expect(convs.map(\.1) == [0, 1, 1, 1, 1])
    }

    @Test func nonStandardKernelsAskForAnArchFile() throws {
        // ryhan's generator uses 3×3 kernels: not the standard DCGAN geometry.
        #expect {
            _ = try GeneratorLoader.load(path: ModelFixtures.path("realweights/torch_dcgan_mnist_ryhan.pth"))
        } throws: { error in
            "\(error)".contains("--arch")
        }
    }

    @Test func classConditionalSequentialTakesLabels() throws {
        let options = try MapperOptions.architectureFile(ModelFixtures.path("realweights/torch_cwgangp_mnist_hayato.arch.json"))
        let loaded = try GeneratorLoader.load(path: ModelFixtures.path("realweights/torch_cwgangp_mnist_hayato.pth"), options: options)
        #expect(loaded.generator.cDim == 10)
        let golden = try Golden.read(path: ModelFixtures.path("realweights/torch_cwgangp_mnist_hayato.golden.npz"))
        #expect(golden.labels != nil)
        var wrong = golden
        wrong.labels = golden.labels!.map { ($0 + 1) % 10 }
        #expect(!(try Verifier.verify(loaded.generator, golden: wrong)).passed)
    }

    @Test func bindingErrorsNameEveryProblem() throws {
        // A wrong layer width in the description: every mismatched tensor is reported at once.
        let arch = """
        {"z_dim": 64, "layers": [
          {"type": "conv_transpose2d", "in": 64, "out": 200, "kernel": 3, "stride": 2, "params": "gen.0.0"},
          {"type": "batch_norm", "features": 200, "params": "gen.0.1"},
          {"type": "conv_transpose2d", "in": 200, "out": 1, "kernel": 4, "stride": 2, "params": "nope"}]}
        """
        let options = MapperOptions(architecture: try JSONValue.parse(arch), architecturePath: "test.json")
        do {
            _ = try GeneratorLoader.load(path: ModelFixtures.path("realweights/torch_dcgan_mnist_ryhan.pth"), options: options)
            Issue.record("expected a binding error")
        } catch let e as BindingError {
            #expect(e.mismatched.map(\.name).contains("layers.0.weight"))
            #expect(e.mismatched.map(\.name).contains("layers.1.running_mean"))
            #expect(e.missing.contains { $0.hasPrefix("layers.2.weight") })
            #expect(e.unexpected.contains("gen.3.0.weight"))
        }
    }

    @Test func rosinalityAndNVLabsShareTheCanonicalNames() throws {
        let ros = try GeneratorLoader.load(path: ModelFixtures.path("ros-sg2-16.pt")).generator
        let nv = try GeneratorLoader.load(path: ModelFixtures.path("sg2-skip-16-cond.pkl")).generator
        let rosNames = Set(ros.parameters.keys), nvNames = Set(nv.parameters.keys)
        // The conditional NVlabs model has an embedding on top; everything else has the same names.
        #expect(nvNames.subtracting(rosNames) == ["mapping.embed.weight", "mapping.embed.bias"])
        #expect(rosNames.subtracting(nvNames).allSatisfy { $0.hasPrefix("mapping.fc") })
    }

    @Test func truncationMovesTowardsTheAverage() throws {
        let g = try #require(try GeneratorLoader.load(path: ModelFixtures.path("sg2-skip-32-uncond.pkl")).generator as? StyleGAN2Generator)
        let z = Tensor(shape: [1, g.zDim], floats: Sampler.latent(seed: 3, zDim: g.zDim))
        let full = try g.mapping(z: z, c: nil, truncation: 1, truncationCutoff: nil, trace: nil).floats()
        let none = try g.mapping(z: z, c: nil, truncation: 0, truncationCutoff: nil, trace: nil).floats()
        let half = try g.mapping(z: z, c: nil, truncation: 0.5, truncationCutoff: nil, trace: nil).floats()
        for i in 0..<full.count { #expect(abs(half[i] - (none[i] + full[i]) / 2) < 1e-5) }
        let cut = try g.mapping(z: z, c: nil, truncation: 0, truncationCutoff: 2, trace: nil).floats()
        let w = g.styleConfigWDim
        #expect(Array(cut[0..<(2 * w)]) == Array(none[0..<(2 * w)]))
        #expect(Array(cut[(2 * w)...]) == Array(full[(2 * w)...]))
    }

    @Test func tracesNameTheLayersInOrder() throws {
        let g = try GeneratorLoader.load(path: ModelFixtures.path("sg2-skip-16-cond.pkl")).generator
        let golden = try Golden.read(path: ModelFixtures.path("sg2-skip-16-cond.golden.npz"))
        let recorder = TraceRecorder()
        let out = try g.generate(try golden.inputs(classes: g.cDim), trace: recorder)
        let names = recorder.entries.map(\.name)
        #expect(names.first == "mapping")
        #expect(names.last == "synthesis.b16")
        #expect(names.contains("synthesis.b8.conv0") && names.contains("synthesis.b8.torgb"))
        #expect(recorder["synthesis.b16"]?.floats() == out.image.floats())
    }
}

@Suite struct SamplingTests {
    @Test(arguments: ["dcgan-seed-64.pth", "keras-dcgan-16.h5", "sg2-skip-16-cond.pkl", "ros-sg2-16.pt"])
    func writesAGridPerFamily(_ name: String) throws {
        let g = try GeneratorLoader.load(path: ModelFixtures.path(name)).generator
        let sampler = Sampler(generator: g, truncation: 0.7, classIndex: g.cDim > 0 ? 1 : nil)
        var progress: [Int] = []
        let batch = try sampler.images(seeds: [0, 1, 2, 3]) { done, _ in progress.append(done) }
        #expect(progress == [1, 2, 3, 4])
        #expect(batch.shape[0] == 4)
        let strip = try sampler.interpolation(from: 0, to: 1, steps: 3)
        #expect(strip.shape[0] == 3)
        // The strip starts at seed 0's image.
        let first = try sampler.images(seeds: [0]).floats()
        let stripFirst = Array(strip.floats()[0..<first.count])
        #expect(zip(first, stripFirst).allSatisfy { abs($0 - $1) < 1e-5 })
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let grid = try ImageGrid(batch: batch, range: g.outputRange)
        try PNGWriter.write(grid, to: dir + "/g.png")
        let (w, h, _) = try PNGWriter.readInfo(path: dir + "/g.png")
        #expect(w == 2 * batch.shape[3] + 2 && h == 2 * batch.shape[2] + 2)
        // Different seeds give different images.
        let per = batch.elementCount / 4
        let v = batch.floats()
        #expect(Array(v[0..<per]) != Array(v[per..<(2 * per)]))
        #expect(Set(grid.pixels).count > 1)
    }
}
