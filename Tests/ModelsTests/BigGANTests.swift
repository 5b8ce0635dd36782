import Checkpoints
import Foundation
import Testing
@testable import GANKit
@testable import Models

/// ajbrock BigGAN-PyTorch: parity with goldens made by its Generator in eval mode (first call after loading),
/// canonical round trips, the architecture read from shapes, and the spectral-norm convention.
@Suite struct BigGANTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var dir: String
        var testDescription: String { dir }
        var checkpoint: String { ModelFixtures.path("biggan/\(dir)/G_ema.pth") }
        var golden: String { ModelFixtures.path("biggan/\(dir).golden.npz") }
    }

    /// The shared seed fixture (64 px, hierarchical z, attention at 32); 32 px with instance-norm style, two
    /// attention blocks and BN_eps 2e-3; 32 px without config.json, without hierarchy, myBN layout; 64 px with
    /// per-class BN embeddings (no shared embedding), plain convolutions and no BN statistics.
    static let cases = [Case(dir: "biggan-ajbrock-64"), Case(dir: "biggan-ajbrock-32-in"),
                        Case(dir: "biggan-ajbrock-32-noconfig"), Case(dir: "biggan-ajbrock-64-noshared")]

    @Test(arguments: cases) func matchesItsGolden(_ c: Case) throws {
        let loaded = try GeneratorLoader.load(path: c.checkpoint)
        #expect(loaded.mapper == BigGANAjbrockMapper.name)
        #expect(loaded.generator.architecture == "biggan")
        #expect(loaded.generator.source == "ajbrock")
        let golden = try Golden.read(path: c.golden)
        let report = try Verifier.verify(loaded.generator, golden: golden)
        #expect(report.passed, "\(report.text(checkpoint: c.checkpoint, golden: c.golden))")
        for comparison in report.comparisons + report.traces { #expect(comparison.relativeError <= 1e-4) }

        #expect(!(try Verifier.verify(loaded.generator, golden: goldenWithOnePixelMoved(golden))).passed)
    }

    @Test(arguments: cases) func canonicalConversionGivesTheSameModel(_ c: Case) throws {
        let loaded = try GeneratorLoader.load(path: c.checkpoint)
        try withCanonicalCopy(of: loaded.checkpoint) { _, reloaded in
            #expect(reloaded.generator.config == loaded.generator.config)
            // Canonical names are upstream's own; only the sv logs (and extra singular vectors) are left out.
            #expect(reloaded.generator.parameters.keys.allSatisfy { loaded.checkpoint.tensors[$0] != nil })
            #expect(!reloaded.generator.parameters.keys.contains { $0.hasSuffix(".sv0") })
            let inputs = try Golden.read(path: c.golden).inputs(classes: loaded.generator.cDim)
            #expect(try loaded.generator.generate(inputs).image.floats() == reloaded.generator.generate(inputs).image.floats())
        }
    }

    @Test func architectureComesFromShapes() throws {
        let seed = try #require(try GeneratorLoader.load(path: Self.cases[0].checkpoint).generator as? BigGANGenerator)
        let c = seed.bigGANConfig
        // linear.weight [1024, 4]: chunks of 4, 4 blocks + 1 → z of 20; BN input = shared 16 + chunk 4.
        #expect(c.zChunk == 4)
        #expect(c.hierarchical)
        #expect(c.zDim == 20)
        #expect(c.conditionDim == 20)
        #expect(c.blocks.map(\.outChannels) == [64, 32, 16, 8])
        #expect(c.blocks.map(\.attention) == [false, false, true, false])
        #expect(c.resolution == 64)
        #expect(c.bottomWidth == 4)
        #expect(c.bnEps == 1e-5)
        #expect(c.snEps == 1e-6)

        let plain = try #require(try GeneratorLoader.load(path: Self.cases[2].checkpoint).generator as? BigGANGenerator)
        #expect(!plain.bigGANConfig.hierarchical)
        #expect(plain.bigGANConfig.zDim == 24)
        #expect(plain.bigGANConfig.myBN)
        #expect(plain.bigGANConfig.sharedDim == 24)
        #expect(plain.bigGANConfig.resolution == 32)

        let noShared = try #require(try GeneratorLoader.load(path: Self.cases[3].checkpoint).generator as? BigGANGenerator)
        #expect(!noShared.bigGANConfig.sharedEmbedding)
        #expect(!noShared.bigGANConfig.spectralNorm)
        #expect(noShared.bigGANConfig.normStyle == "nonorm")
        #expect(noShared.cDim == 6)
        #expect(try BigGANConfig(json: c.json) == c)
    }

    @Test func spectralNormDoesOnePowerStepFromU0() throws {
        // W = diag(3, 1) with u0 = (1, 1)·5 (not unit, as G_ema's EMA'd u0 is): one step gives
        // v = (3, 1)/√10, W v = (9, 1)/√10, σ = ‖W v‖ = √(82/10); the true top singular value would be 3.
        let w = Tensor(shape: [2, 2], floats: [3, 0, 0, 1])
        let u0 = Tensor(shape: [1, 2], floats: [5, 5])
        let out = try SpectralNorm.onePowerIteration(weight: w, u0: u0, eps: 1e-6, name: "test").floats()
        let sigma = Float((82.0 / 10).squareRoot())
        let expected: [Float] = [3 / sigma, 0, 0, 1 / sigma]
        let worst = zip(out, expected).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-6)
        // The stored-vector convention uses u·(W v) as it is.
        let stored = try SpectralNorm.storedVectors(weight: w, u: Tensor(shape: [2], floats: [1, 0]),
                                                    v: Tensor(shape: [2], floats: [1, 0]), name: "test").floats()
        let expectedStored: [Float] = [1, 0, 0, Float(1) / 3]
        #expect(stored == expectedStored)
        // A zero u0 gives no direction at all: refused with the parameter's name.
        #expect { _ = try SpectralNorm.onePowerIteration(weight: w, u0: Tensor(shape: [1, 2], floats: [0, 0]), eps: 0, name: "blocks.0.0.conv1.weight") }
            throws: { "\($0)".contains("blocks.0.0.conv1.weight") }
    }

    @Test func singularValueLogDoesNotMatter() throws {
        let full = try CheckpointLoader.load(path: Self.cases[0].checkpoint)
        let inputs = try Golden.read(path: Self.cases[0].golden).inputs(classes: 10)
        let reference = try GeneratorLoader.load(checkpoint: full).generator.generate(inputs).image.floats()
        var changed = OrderedDictionary<String, Tensor>()
        for (name, t) in full.tensors.tensors {
            changed[name] = name.hasSuffix(".sv0") ? Tensor(shape: t.shape, floats: [Float](repeating: 1e6, count: t.elementCount)) : t
        }
        var edited = full
        edited.tensors = TensorStore(tensors: changed)
        #expect(try GeneratorLoader.load(checkpoint: edited).generator.generate(inputs).image.floats() == reference)
    }

    @Test func missingTensorsAreNamed() throws {
        let full = try CheckpointLoader.load(path: Self.cases[0].checkpoint)
        var kept = OrderedDictionary<String, Tensor>()
        for (name, t) in full.tensors.tensors where name != "blocks.2.1.phi.u0" { kept[name] = t }
        var cut = full
        cut.tensors = TensorStore(tensors: kept)
        #expect { _ = try GeneratorLoader.load(checkpoint: cut) } throws: { "\($0)".contains("blocks.2.1.phi.u0") }
    }

    @Test func classVectorIsRequired() throws {
        let loaded = try GeneratorLoader.load(path: Self.cases[1].checkpoint)
        var inputs = try Golden.read(path: Self.cases[1].golden).inputs(classes: loaded.generator.cDim)
        inputs.c = nil
        #expect(throws: ModelError.self) { try loaded.generator.generate(inputs) }
    }
}
