import Foundation
import Testing
@testable import GANKit
@testable import Models

/// StyleGAN v1 TF network pickles (made and run with the official NVlabs/stylegan code) against their goldens.
@Suite struct StyleGANv1Tests {
    static func fixture(_ name: String) -> String { ModelFixtures.path("stylegan-tf/" + name) }

    func load(_ name: String) throws -> GeneratorLoader.Loaded {
        try GeneratorLoader.load(path: Self.fixture(name + ".pkl"))
    }

    @Test(arguments: ["sg1-32-cond", "sg1-128-uncond"])
    func matchesTheOfficialTFOutput(_ name: String) throws {
        let loaded = try load(name)
        #expect(loaded.mapper == StyleGANv1TensorFlowMapper.name)
        #expect(loaded.generator.architecture == "stylegan1")
        let golden = try Golden.read(path: Self.fixture(name + ".golden.npz"))
        #expect(golden.truncationCutoff == 8)
        let report = try Verifier.verify(loaded.generator, golden: golden)
        #expect(report.passed, "\(report.comparisons.map { "\($0.name) \($0.relativeError)" })")
        #expect(report.comparisons.map(\.name).sorted() == ["image", "ws"])

        // The same golden with one pixel moved must fail.
        #expect(try !Verifier.verify(loaded.generator, golden: goldenWithOnePixelMoved(golden)).passed)
    }

    @Test func infersTheConfigurationFromShapesAndKwargs() throws {
        let g = try #require(try load("sg1-128-uncond").generator as? StyleGANv1Generator)
        let c = g.v1Config
        #expect(c.resolution == 128 && c.numWs == 12 && c.zDim == 16 && c.wDim == 16 && c.cDim == 0)
        #expect(c.channels == [16, 16, 16, 8, 4, 2])
        #expect(c.mappingLayers == 2 && c.mappingLrMultiplier == 0.01 && c.fusedUpMinResolution == 128)
        let cond = try #require(try load("sg1-32-cond").generator as? StyleGANv1Generator)
        #expect(cond.cDim == 3 && cond.parameters["mapping.label_concat.weight"]?.shape == [3, 16])
        // Conv weights are OIHW, dense weights [out, in]; lower-lod ToRGBs are not parameters.
        #expect(cond.parameters["synthesis.b8.conv0_up.weight"]?.shape == [32, 32, 3, 3])
        #expect(cond.parameters["mapping.fc0.weight"]?.shape == [16, 32])
        #expect(cond.parameters["synthesis.torgb.weight"]?.shape == [3, 8, 1, 1])
        #expect(!cond.parameters.keys.contains { $0.contains("lod") })
    }

    @Test func truncationCutoffLimitsTheLayers() throws {
        let g = try #require(try load("sg1-32-cond").generator as? StyleGANv1Generator)
        let z = tensor([2, 16]) { sinf(Float($0) * 0.7) }
        let c = Tensor(shape: [2, 3], floats: [1, 0, 0, 0, 0, 1])
        let free = try g.mapping(z: z, c: c, truncation: 1, truncationCutoff: nil, trace: nil).floats()
        let cut = try g.mapping(z: z, c: c, truncation: 0.5, truncationCutoff: 3, trace: nil).floats()
        let all = try g.mapping(z: z, c: c, truncation: 0.5, truncationCutoff: nil, trace: nil).floats()
        let avg = g.wAvg.floats()
        let numWs = 8, wDim = 16
        for s in 0..<2 {
            for l in 0..<numWs {
                for j in 0..<wDim {
                    let i = (s * numWs + l) * wDim + j
                    let lerped = avg[j] + (free[i] - avg[j]) * 0.5
                    #expect(abs(all[i] - lerped) < 1e-6)
                    #expect(abs(cut[i] - (l < 3 ? lerped : free[i])) < 1e-6)
                }
            }
        }
    }

    @Test func canonicalConversionLoadsBackToTheSameModel() throws {
        let checkpoint = try CheckpointLoader.load(path: Self.fixture("sg1-128-uncond.pkl"))
        try withCanonicalCopy(of: checkpoint) { result, back in
            #expect(result.architecture == "stylegan1")
            let original = try load("sg1-128-uncond").generator
            #expect(back.generator.config == original.config)
            let golden = try Golden.read(path: Self.fixture("sg1-128-uncond.golden.npz"))
            let report = try Verifier.verify(back.generator, golden: golden)
            #expect(report.passed)
        }
    }

    @Test func otherTFPicklesAreNotV1() throws {
        let checkpoint = try CheckpointLoader.load(path: Self.fixture("tf-sg2-skip-16-uncond.pkl"))
        #expect(!StyleGANv1TensorFlowMapper.recognises(checkpoint, options: MapperOptions()))
        #expect(throws: ModelError.self) { try StyleGANv1TensorFlowMapper.load(checkpoint, options: MapperOptions()) }
    }
}
