import Checkpoints
import Foundation
import Testing
@testable import GANKit
@testable import Models

/// huggingface pytorch-pretrained-BigGAN (BigGAN-deep): parity with goldens made by the port in eval mode,
/// canonical round trips, the truncation-indexed statistics and the configuration read from shapes.
@Suite struct BigGANDeepTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var dir: String
        var testDescription: String { dir }
        var checkpoint: String { ModelFixtures.path("biggan/\(dir)/pytorch_model.bin") }
        var golden: String { ModelFixtures.path("biggan/\(dir).golden.npz") }
    }

    /// The shared seed fixture (saturated output, truncation 0.6), one without config.json (truncation 0.3),
    /// one at truncation 1 with n_stats 11, eps 1e-3 and no attention, one at truncation 0.415 (statistics
    /// interpolated with coef 0.75, where the port's swapped weights matter).
    static let cases = [Case(dir: "biggan-hf-16"), Case(dir: "biggan-hf-32-noconfig"), Case(dir: "biggan-hf-16-trunc1"),
                        Case(dir: "biggan-hf-32")]

    @Test(arguments: cases) func matchesItsGolden(_ c: Case) throws {
        let loaded = try GeneratorLoader.load(path: c.checkpoint)
        #expect(loaded.mapper == BigGANDeepHFMapper.name)
        #expect(loaded.generator.architecture == "biggan-deep")
        #expect(loaded.generator.source == "huggingface")
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
            // Canonical names are the port's own state-dict names, spectral-norm vectors included.
            #expect(Set(reloaded.generator.parameters.keys) == Set(loaded.checkpoint.tensors.names))
            let inputs = try Golden.read(path: c.golden).inputs(classes: loaded.generator.cDim)
            #expect(try loaded.generator.generate(inputs).image.floats() == reloaded.generator.generate(inputs).image.floats())
        }
    }

    @Test func truncationSelectsStatisticsWithThePortsSwappedWeights() {
        // 3 rows of 2 channels, n_stats 3 (step 0.5): truncation 0.375 → position 0.75, start 0, coef 0.75.
        let table: [Float] = [1, 10, 2, 20, 4, 40]
        let s = BigGANDeepGenerator.statistics(table, channels: 2, nStats: 3, truncation: 0.375)
        // row0·coef + row1·(1 − coef), not row0·(1 − coef) + row1·coef.
        let swapped: [Float] = [1 * 0.75 + 2 * 0.25, 10 * 0.75 + 20 * 0.25]
        #expect(s == swapped)
        let exactRow: [Float] = [2, 20], lastRow: [Float] = [4, 40]
        #expect(BigGANDeepGenerator.statistics(table, channels: 2, nStats: 3, truncation: 0.5) == exactRow)
        #expect(BigGANDeepGenerator.statistics(table, channels: 2, nStats: 3, truncation: 1) == lastRow)
    }

    @Test func truncationIsReadAsTheDecimalACallerTyped() {
        // 0.6 / 0.02 is exactly 30 in double precision (row 30); the float 0.6000000238 gives 30.0000012, i.e.
        // row 30 with weight 1.2e-6 and row 31 with the rest.
        #expect(BigGANDeepGenerator.truncationValue(0.6) == 0.6)
        #expect(BigGANDeepGenerator.truncationValue(0.415) == 0.415)
        #expect(BigGANDeepGenerator.truncationValue(0.6) / (1.0 / 50) == 30)
        #expect(Double(Float(0.6)) / (1.0 / 50) > 30)
    }

    @Test func truncationOutsideTheUnitIntervalIsRefused() throws {
        let loaded = try GeneratorLoader.load(path: Self.cases[2].checkpoint)
        var inputs = try Golden.read(path: Self.cases[2].golden).inputs(classes: loaded.generator.cDim)
        for bad: Float in [0, 1.5, -0.2] {
            inputs.truncation = bad
            #expect(throws: ModelError.self) { try loaded.generator.generate(inputs) }
        }
    }

    @Test func configurationIsInferredFromShapesWithoutConfigJSON() throws {
        let loaded = try GeneratorLoader.load(path: Self.cases[1].checkpoint)
        #expect(!loaded.checkpoint.metadata.contains { $0.0 == "config.json" })
        let g = try #require(loaded.generator as? BigGANDeepGenerator)
        let c = g.deepConfig
        #expect(c.zDim == 10)
        #expect(c.numClasses == 7)
        #expect(c.channelWidth == 3)
        #expect(c.nStats == 51)
        #expect(c.layers.map(\.upsample) == [false, true, false, true, false, true])
        #expect(c.layers.map(\.inMultiplier) == [16, 16, 8, 8, 4, 2])
        #expect(c.layers.map(\.outMultiplier) == [16, 8, 8, 4, 2, 1])
        #expect(c.attentionLayerPosition == 4)
        #expect(c.resolution == 32)
        // The JSON form reads back to the same configuration.
        #expect(try BigGANDeepConfig(json: c.json) == c)
    }

    @Test func missingTensorsAreNamed() throws {
        let full = try CheckpointLoader.load(path: Self.cases[0].checkpoint)
        var kept = OrderedDictionary<String, Tensor>()
        for (name, t) in full.tensors.tensors where name != "generator.layers.3.conv_2.weight_v" { kept[name] = t }
        var cut = full
        cut.tensors = TensorStore(tensors: kept)
        #expect {
            _ = try GeneratorLoader.load(checkpoint: cut)
        } throws: { error in
            "\(error)".contains("generator.layers.3.conv_2.weight_v")
        }
    }

    @Test func badConfigIsRefusedWithTheKey() throws {
        let json = try JSONValue.parse(#"{"z_dim": 8, "channel_width": 4, "num_classes": 6, "layers": [[false, 16, 16], [true, 16, 5]]}"#)
        #expect { _ = try BigGANDeepConfig(json: json) } throws: { "\($0)".contains("layers[1]") }
        let noLayers = try JSONValue.parse(#"{"z_dim": 8}"#)
        #expect { _ = try BigGANDeepConfig(json: noLayers) } throws: { "\($0)".contains("layers") }
    }
}
