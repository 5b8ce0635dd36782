import Foundation
import Testing
@testable import GANKit
@testable import Models

/// StyleGAN2 (TF) and StyleGAN2-ADA (TF) network pickles onto the Swift StyleGAN2 model, against goldens made
/// with the official TF code.
@Suite struct StyleGAN2TFTests {
    static func fixture(_ name: String) -> String { ModelFixtures.path("stylegan-tf/" + name) }

    func load(_ name: String) throws -> GeneratorLoader.Loaded {
        try GeneratorLoader.load(path: Self.fixture(name + ".pkl"))
    }

    @Test(arguments: ["tf-sg2-skip-16-uncond", "tf-sg2-ada-16-cond"])
    func matchesTheOfficialTFOutput(_ name: String) throws {
        let loaded = try load(name)
        #expect(loaded.mapper == StyleGAN2TensorFlowMapper.name)
        #expect(loaded.generator.architecture == "stylegan2")
        let golden = try Golden.read(path: Self.fixture(name + ".golden.npz"))
        let report = try Verifier.verify(loaded.generator, golden: golden)
        #expect(report.passed, "\(report.comparisons.map { "\($0.name) \($0.relativeError)" })")
        #expect(report.comparisons.map(\.name).sorted() == ["image", "ws"])

        #expect(try !Verifier.verify(loaded.generator, golden: goldenWithOnePixelMoved(golden)).passed)
    }

    /// Synthetic TF pickles (random weights, made in the TF state layout) with goldens from NVlabs
    /// stylegan2-ada-pytorch (`legacy.py` conversion, CPU fp32); LabelConcat's mapping from the TF formula.
    @Test(arguments: [
        ("tfgen-sg2-resnet-32-uncond", StyleGAN2Config.Architecture.resnet, false),
        ("tfgen-ada-resnet-32-cond", .resnet, false),
        ("tfgen-sg2-skip-16-concat", .skip, true),
        ("tfgen-sg2-orig-16-uncond", .orig, false),
    ])
    func matchesTheNVlabsReferenceOnOtherArchitectures(_ name: String, _ architecture: StyleGAN2Config.Architecture,
                                                       _ labelConcat: Bool) throws {
        let loaded = try load(name)
        let g = try #require(loaded.generator as? StyleGAN2Generator)
        #expect(g.styleConfig.architecture == architecture)
        #expect(g.styleConfig.labelConcat == labelConcat)
        let golden = try Golden.read(path: Self.fixture(name + ".golden.npz"))
        let report = try Verifier.verify(g, golden: golden)
        #expect(report.passed, "\(report.comparisons.map { "\($0.name) \($0.relativeError)" })")
        if labelConcat {
            #expect(g.parameters["mapping.label_concat.weight"]?.shape == [3, 16])
            #expect(g.parameters["mapping.fc0.weight"]?.shape == [16, 32])
        }
    }

    @Test func mapsTheTFLayoutsOntoNVlabsNames() throws {
        let checkpoint = try CheckpointLoader.load(path: Self.fixture("tf-sg2-ada-16-cond.pkl"))
        let g = try #require(try StyleGAN2TensorFlowMapper.load(checkpoint, options: MapperOptions()) as? StyleGAN2Generator)
        let cfg = g.styleConfig
        #expect(cfg.zDim == 16 && cfg.wDim == 16 && cfg.cDim == 3 && cfg.imgResolution == 16)
        #expect(cfg.architecture == .skip && cfg.convClamp == 256 && cfg.mappingLayers == 2)
        #expect(cfg.channels == [4: 32, 8: 32, 16: 32])
        let p = g.parameters
        let raw = checkpoint.tensors
        // mod_bias + 1.
        let modBias = raw["Gs.synthesis.8x8.Conv1.mod_bias"]!.floats()
        #expect(p["synthesis.b8.conv1.affine.bias"]!.floats() == modBias.map { $0 + 1 })
        // Dense [in, out] → [out, in]; LabelEmbed → embed.
        #expect(p["mapping.embed.weight"]?.shape == [16, 3])
        let tfEmbed = raw["Gs.mapping.LabelEmbed.weight"]!.floats()   // [3, 16]
        #expect(p["mapping.embed.weight"]!.floats()[5 * 3 + 2] == tfEmbed[2 * 16 + 5])
        // Conv0_up: HWIO → OIHW and flipped spatially; Conv1 only transposed.
        let up = raw["Gs.synthesis.16x16.Conv0_up.weight"]!   // [3, 3, 32, 32]
        let (ci, co) = (up.shape[2], up.shape[3])
        let upTF = up.floats(), upOurs = p["synthesis.b16.conv0.weight"]!.floats()
        for (o, i, ky, kx) in [(0, 0, 0, 0), (3, 5, 0, 2), (7, 1, 2, 1)] {
            let tfValue = upTF[(((2 - ky) * 3 + (2 - kx)) * ci + i) * co + o]
            #expect(upOurs[((o * ci + i) * 3 + ky) * 3 + kx] == tfValue)
        }
        // Noise index: b16.conv0 uses noise3, b16.conv1 noise4; the strength is a scalar.
        #expect(p["synthesis.b16.conv0.noise_const"]!.floats() == raw["Gs.synthesis.noise3"]!.floats())
        #expect(p["synthesis.b16.conv1.noise_const"]!.floats() == raw["Gs.synthesis.noise4"]!.floats())
        #expect(p["synthesis.b4.conv1.noise_strength"]?.shape == [])
        #expect(p["mapping.w_avg"]!.floats() == raw["Gs.dlatent_avg"]!.floats())
    }

    @Test func canonicalConversionLoadsBackToTheSameModel() throws {
        let checkpoint = try CheckpointLoader.load(path: Self.fixture("tf-sg2-skip-16-uncond.pkl"))
        try withCanonicalCopy(of: checkpoint) { result, back in
            #expect(result.architecture == "stylegan2" && result.source == "nvlabs-tf")
            let golden = try Golden.read(path: Self.fixture("tf-sg2-skip-16-uncond.golden.npz"))
            #expect(try Verifier.verify(back.generator, golden: golden).passed)
        }
    }

    @Test func v1PicklesAreNotStyleGAN2() throws {
        let checkpoint = try CheckpointLoader.load(path: Self.fixture("sg1-32-cond.pkl"))
        #expect(!StyleGAN2TensorFlowMapper.recognises(checkpoint, options: MapperOptions()))
        #expect(throws: ModelError.self) { try StyleGAN2TensorFlowMapper.load(checkpoint, options: MapperOptions()) }
    }
}
