import Checkpoints
import Foundation
import Testing
@testable import GANKit
@testable import Models

/// lucidrains gigagan-pytorch 0.3.0 generators (trainer checkpoints written and run by the reference code, with
/// the per-layer noise recorded) against their goldens.
@Suite struct GigaGANTests {
    static func fixture(_ name: String) -> String { ModelFixtures.path("gigagan/" + name) }

    func load(_ name: String) throws -> GeneratorLoader.Loaded {
        try GeneratorLoader.load(path: Self.fixture(name + ".pt"))
    }

    func giga(_ name: String) throws -> GigaGANGenerator {
        try #require(try load(name).generator as? GigaGANGenerator)
    }

    func golden(_ name: String) throws -> Golden {
        try Golden.read(path: Self.fixture(name + ".golden.npz"))
    }

    /// Largest absolute difference between two tensors of the same shape.
    func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.floats(), b.floats()).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    @Test(arguments: ["gigagan-16", "gigagan-text-16-ema", "gigagan-u32-excite", "gigagan-u32-pixelshuffle",
                      "gigagan-text32-ema", "gigagan-text64"])
    func matchesTheReferenceOutput(_ name: String) throws {
        let loaded = try load(name)
        #expect(loaded.mapper == GigaGANLucidrainsMapper.name)
        #expect(loaded.generator.architecture == "gigagan")
        let golden = try golden(name)
        let g = try giga(name)
        #expect(golden.noise.count == 2 * g.gigaConfig.numLayers)
        #expect((golden.textEncodings != nil) == (g.gigaConfig.text != nil))
        let report = try Verifier.verify(loaded.generator, golden: golden)
        #expect(report.passed, "\(report.comparisons.map { "\($0.name) \($0.relativeError)" })")
        #expect(report.comparisons.map(\.name) == ["image"])

        // The same golden with one pixel moved must fail.
        var bad = golden
        var pixels = golden.expected["image"]!.floats()
        pixels[5] += 0.05 * max(1, pixels.map(abs).max()!)
        bad.expected["image"] = Tensor(shape: golden.expected["image"]!.shape, floats: pixels)
        #expect(try !Verifier.verify(loaded.generator, golden: bad).passed)
    }

    @Test func infersTheConfigurationFromNamesAndShapes() throws {
        let small = try giga("gigagan-16").gigaConfig
        #expect(small.imageSize == 16 && small.styleDim == 32 && small.styleDepth == 2 && small.numConvKernels == 2)
        #expect(small.dimLatent == 32 && small.layers.map(\.dimOut) == [32, 16, 8] && small.text == nil)
        #expect(small.layers.map { $0.selfAttention != nil } == [false, true, false])
        #expect(small.layers[1].selfAttention == .init(heads: 2, dimHead: 8, ffHidden: 64, dotProduct: true))

        let excite = try giga("gigagan-u32-excite").gigaConfig
        #expect(excite.skipExciteLayers == 2 && excite.numConvKernels == 3 && excite.styleDepth == 3)
        #expect(excite.layers.map { $0.exciteHidden != nil } == [true, true, false, false])
        #expect(excite.layers[1].selfAttention == .init(heads: 3, dimHead: 4, ffHidden: 32, dotProduct: false))

        let shuffle = try giga("gigagan-u32-pixelshuffle").gigaConfig
        #expect(shuffle.pixelShuffleUpsample && shuffle.numConvKernels == 1)

        let text = try giga("gigagan-text64").gigaConfig
        #expect(text.imageSize == 64 && text.skipExciteLayers == 1)
        #expect(text.text == .init(inputDim: 48, dim: 32, depth: 1, heads: 2, dimHead: 8, ffHidden: 128))
        #expect(text.layers.map { $0.crossAttention?.heads } == [nil, nil, 2, 2, nil])

        // Text width equal to the CLIP width: no project_in.
        let identity = try giga("gigagan-text32-ema").gigaConfig
        #expect(identity.text?.projectsInput == false && identity.text?.depth == 2)
    }

    @Test func prefersTheEMAWeightsAndSkipsTheOnlineCopy() throws {
        let g = try giga("gigagan-text-16-ema")
        #expect(g.source == "lucidrains-ema")
        let checkpoint = try CheckpointLoader.load(path: Self.fixture("gigagan-text-16-ema.pt"))
        let ema = try #require(checkpoint.tensors["G_ema.ema_model.init_block"])
        let online = try #require(checkpoint.tensors["G.init_block"])
        #expect(g.parameters["init_block"]?.floats() == ema.floats())
        #expect(g.parameters["init_block"]?.floats() != online.floats())
        // CLIP weights a trainer checkpoint carries are skipped, not reported.
        let withClip = try giga("gigagan-text32-ema")
        #expect(!withClip.parameters.keys.contains { $0.contains("clip") })
    }

    @Test func configJSONRoundTrips() throws {
        for name in ["gigagan-u32-excite", "gigagan-text64", "gigagan-u32-pixelshuffle"] {
            let c = try giga(name).gigaConfig
            #expect(try GigaGANConfig(json: try JSONValue.parse(c.json.serialized())) == c)
        }
    }

    @Test func canonicalConversionLoadsBackToTheSameModel() throws {
        for name in ["gigagan-text-16-ema", "gigagan-u32-excite"] {
            let checkpoint = try CheckpointLoader.load(path: Self.fixture(name + ".pt"))
            try withCanonicalCopy(of: checkpoint) { result, back throws in
                #expect(result.architecture == "gigagan")
                #expect(back.generator.config == (try load(name).generator.config))
                #expect(try Verifier.verify(back.generator, golden: golden(name)).passed)
            }
        }
    }

    @Test func anExplicitTextMaskActsLikeZeroedRows() throws {
        let g = try giga("gigagan-text-16-ema")
        let golden = try golden("gigagan-text-16-ema")
        let te = try #require(golden.textEncodings)
        let (n, t, d) = (te.shape[0], te.shape[1], te.shape[2])
        // Mask token 1 of sample 0 (a non-zero row) through the mask, and separately by zeroing it.
        var mask = [Float](repeating: 1, count: n * t)
        mask[1] = 0
        var zeroed = te.floats()
        for j in 0..<d { zeroed[1 * d + j] = 0 }
        var masked = try golden.inputs(classes: 0)
        masked.textMask = Tensor(shape: [n, t], floats: mask)
        var blanked = try golden.inputs(classes: 0)
        blanked.textEncodings = Tensor(shape: te.shape, floats: zeroed)
        let a = try g.generate(masked).image, b = try g.generate(blanked).image
        let plain = try g.generate(try golden.inputs(classes: 0)).image
        #expect(maxDifference(a, b) < 1e-5)
        #expect(maxDifference(a, plain) > 1e-3)
    }

    @Test func checksNoiseAndTextInputs() throws {
        let g = try giga("gigagan-text-16-ema")
        let golden = try golden("gigagan-text-16-ema")
        var inputs = try golden.inputs(classes: 0)
        inputs.noise.removeLast()
        #expect(throws: ModelError.self) { try g.generate(inputs) }
        inputs = try golden.inputs(classes: 0)
        inputs.textEncodings = Tensor(zeros: [2, 3, 7])
        #expect(throws: ModelError.self) { try g.generate(inputs) }

        // Without noise maps or text the model still runs (no noise, one fully masked token), and noise matters.
        let bare = try g.generate(GeneratorInputs(z: golden.z)).image
        #expect(bare.shape == [2, 3, 16, 16] && bare.floats().allSatisfy(\.isFinite))
        var noNoise = try golden.inputs(classes: 0)
        noNoise.noise = []
        #expect(maxDifference(try g.generate(noNoise).image, golden.expected["image"]!) > 1e-3)
    }

    @Test func rejectsCheckpointsThatAreNotGigaGAN() throws {
        let checkpoint = try CheckpointLoader.load(path: ModelFixtures.path("dcgan-seed-64.pth"))
        #expect(!GigaGANLucidrainsMapper.recognises(checkpoint, options: MapperOptions()))
        #expect(throws: ModelError.self) { try GigaGANLucidrainsMapper.load(checkpoint, options: MapperOptions()) }
    }

    @Test func reportsMissingAndMisshapenParameters() throws {
        let checkpoint = try CheckpointLoader.load(path: Self.fixture("gigagan-16.pt"))
        var tensors = OrderedDictionary<String, Tensor>()
        for (name, t) in checkpoint.tensors.tensors where name != "G.layers.1.3.attn.to_v.weight" {
            tensors[name] = name == "G.layers.0.1.1.weight" ? Tensor(zeros: [7, 1, 1]) : t
        }
        var broken = checkpoint
        broken.tensors = TensorStore(tensors: tensors)
        #expect(throws: BindingError.self) { try GigaGANLucidrainsMapper.load(broken, options: MapperOptions()) }
        do {
            _ = try GigaGANLucidrainsMapper.load(broken, options: MapperOptions())
        } catch let e as BindingError {
            #expect(e.missing.contains("layers.1.3.attn.to_v.weight"))
            #expect(e.mismatched.map(\.name) == ["layers.0.1.1.weight"])
        }
    }
}
