import Foundation
import Testing
@testable import GANKit
@testable import Models

/// StyleGAN3 (NVlabs pickles, configs T and R) against goldens made by the official code on CPU
/// (Fixtures/models/stylegan3, Scripts/make_stylegan3_fixtures.py).
@Suite struct StyleGAN3Tests {
    static let fixtures = ["sg3-t-16-uncond", "sg3-r-16-cond", "sg3-t-32-cond", "sg3-t-64-uncond"]

    static func path(_ name: String) -> String { ModelFixtures.path("stylegan3/" + name) }

    static func load(_ name: String) throws -> StyleGAN3Generator {
        let loaded = try GeneratorLoader.load(path: path(name + ".pkl"))
        #expect(loaded.mapper == StyleGAN3NVLabsMapper.name)
        return try #require(loaded.generator as? StyleGAN3Generator)
    }

    @Test(arguments: fixtures)
    func matchesTheNVlabsGolden(_ name: String) throws {
        let g = try Self.load(name)
        let golden = try Golden.read(path: Self.path(name + ".golden.npz"))
        let report = try Verifier.verify(g, golden: golden)
        #expect(report.passed, "\(report.comparisons.map { "\($0.name) \($0.relativeError)" })")
        #expect(report.comparisons.map(\.name).sorted() == ["image", "ws"])

        // One perturbed pixel must fail.
        #expect(try !Verifier.verify(g, golden: goldenWithOnePixelMoved(golden)).passed)
    }

    @Test func infersTheConfigurationFromTheInitKwargs() throws {
        let t = try Self.load("sg3-t-16-uncond")
        #expect(t.layerNames == ["L0_36_32", "L1_36_32", "L2_36_32", "L3_16_32", "L4_16_3"])
        #expect(t.styleGAN3Config.numWs == 6)
        #expect(t.cDim == 0)
        let tGeometry = try t.styleGAN3Config.geometry()
        #expect(tGeometry.layers.map(\.padding) == [[9, 8, 9, 8], [9, 8, 9, 8], [9, 8, 9, 8], [-11, -12, -11, -12], [0, 0, 0, 0]])
        #expect(tGeometry.input.size == 36 && tGeometry.input.samplingRate == 16 && tGeometry.input.bandwidth == 2)

        let r = try Self.load("sg3-r-16-cond")
        #expect(r.summary.hasPrefix("StyleGAN3-R"))
        #expect(r.cDim == 3)
        let rLayers = try r.styleGAN3Config.geometry().layers
        // Radial (2-D) down filters in the non-critical layers only; 1×1 convs except nothing else.
        #expect(rLayers.map(\.downRadial) == [true, true, true, false, false, false])
        #expect(r.parameters["synthesis.L0_36_32.down_filter"]?.shape == [12, 12])
        #expect(r.parameters["synthesis.L3_36_32.down_filter"]?.shape == [12])
        #expect(r.parameters["synthesis.L0_36_32.weight"]?.shape == [32, 32, 1, 1])

        // Sampling rate doubling: 4× upsampling layers with 24-tap up filters.
        let t64 = try Self.load("sg3-t-64-uncond")
        let ups = try t64.styleGAN3Config.geometry().layers.map(\.up)
        #expect(ups.contains(4))
        #expect(t64.parameters["synthesis.L4_52_16.up_filter"]?.shape == [24])
        #expect(t64.layerNames.last == "L14_64_4")
    }

    @Test func readsKwargsWithNVlabsDefaults() throws {
        let minimal: JSONValue = .object([("z_dim", .int(512)), ("w_dim", .int(512)), ("img_resolution", .int(1024)),
                                          ("img_channels", .int(3))])
        let c = try StyleGAN3Config(kwargs: minimal)
        #expect(c.numLayers == 14 && c.numCritical == 2 && c.convKernel == 3 && c.convClamp == 256)
        // The FFHQ-1024 SG3-T schedule (channel_base 32768, channel_max 512).
        let layers = try c.geometry().layers
        #expect(layers.map(\.name) == ["L0_36_512", "L1_36_512", "L2_52_512", "L3_52_512", "L4_84_512", "L5_148_512",
                                       "L6_148_512", "L7_276_323", "L8_276_203", "L9_532_128", "L10_1044_81",
                                       "L11_1044_51", "L12_1044_32", "L13_1024_32", "L14_1024_3"])
        #expect(layers[2].padding == [-6, -9, -6, -9] && layers[2].up == 4 && layers[2].upTaps == 24)
        #expect(layers[13].padding == [-11, -12, -11, -12])

        // SG3-R: radial down filters outside the critical layers, explicit null clamp, nested synthesis kwargs.
        let r = try StyleGAN3Config(kwargs: .object([
            ("z_dim", .int(512)), ("w_dim", .int(512)), ("img_resolution", .int(1024)), ("conv_clamp", .null),
            ("synthesis_kwargs", .object([("channel_base", .int(65536)), ("channel_max", .int(1024)),
                                          ("conv_kernel", .int(1)), ("use_radial_filters", .bool(true))])),
        ]))
        #expect(r.convClamp == nil)
        let rl = try r.geometry().layers
        #expect(rl.map(\.name).prefix(2) == ["L0_36_1024", "L1_36_1024"] && rl[9].name == "L9_532_256")
        #expect(rl.map(\.downRadial) == Array(repeating: true, count: 12) + [false, false, false])
        #expect(rl[0].padding == [11, 10, 11, 10] && rl[2].padding == [-2, -5, -2, -5] && rl[13].padding == [-9, -10, -9, -10])
        // The canonical JSON reads back to the same config.
        #expect(try StyleGAN3Config(kwargs: r.json) == r)
    }

    @Test func theInputTransformIsUserSettable() throws {
        // sg3-t-32-cond stores the inverse of "translate (0.1, −0.2), rotate 15°" in synthesis.input.transform.
        let g = try Self.load("sg3-t-32-cond")
        let golden = try Golden.read(path: Self.path("sg3-t-32-cond.golden.npz"))
        let inputs = try golden.inputs(classes: g.cDim)
        let stored = try g.generate(inputs).image.floats()

        g.inputTransform = StyleGAN3Generator.imageTransform(translate: (0.1, -0.2), rotateDegrees: 15)
        let rebuilt = try g.generate(inputs).image.floats()
        #expect(zip(stored, rebuilt).map { abs($0 - $1) }.max()! < 1e-5)

        g.inputTransform = StyleGAN3Generator.imageTransform()
        let identity = try g.generate(inputs).image.floats()
        #expect(zip(stored, identity).map { abs($0 - $1) }.max()! > 1e-2)

        g.inputTransform = [1, 0, 0]
        #expect(throws: ModelError.self) { try g.generate(inputs) }
    }

    @Test func canonicalConversionLoadsBackToTheSameModel() throws {
        let loaded = try GeneratorLoader.load(path: Self.path("sg3-r-16-cond.pkl"))
        try withCanonicalCopy(of: loaded.checkpoint) { _, back in
            let g = try #require(back.generator as? StyleGAN3Generator)
            #expect(g.styleGAN3Config == (loaded.generator as? StyleGAN3Generator)?.styleGAN3Config)
            #expect(Array(g.parameters.keys) == Array(loaded.generator.parameters.keys))
            #expect(g.parameters.keys.contains("synthesis.input.transform"))
            #expect(g.parameters.keys.contains("mapping.embed.weight"))
            let report = try Verifier.verify(g, golden: try Golden.read(path: Self.path("sg3-r-16-cond.golden.npz")))
            #expect(report.passed)
        }
    }

    @Test func aConfigThatDisagreesWithTheTensorsIsReportedByName() throws {
        let loaded = try GeneratorLoader.load(path: Self.path("sg3-t-16-uncond.pkl"))
        var config = try #require(loaded.generator as? StyleGAN3Generator).styleGAN3Config
        config.numLayers = 5
        let binder = ParameterBinder(raw: loaded.checkpoint.tensors,
                                     mapping: .prefixed("G_ema.", in: loaded.checkpoint.tensors),
                                     architecture: "stylegan3", file: "sg3-t-16-uncond.pkl")
        do {
            _ = try StyleGAN3Generator(config: config, params: binder, source: "test")
            Issue.record("a 5-layer config bound to a 4-layer checkpoint")
        } catch let e as BindingError {
            #expect(e.missing.contains { $0.hasPrefix("synthesis.L5_") })
            #expect(e.unexpected.contains { $0.hasPrefix("G_ema.synthesis.L4_16_3") })
        }
    }

    @Test func rejectsBadConfigsAndInputs() throws {
        let bad: JSONValue = .object([("z_dim", .int(8)), ("w_dim", .int(8)), ("img_resolution", .int(16)),
                                      ("num_layers", .int(2)), ("num_critical", .int(2))])
        #expect(throws: ModelError.self) { try StyleGAN3Config(kwargs: bad) }
        #expect(throws: ModelError.self) { try StyleGAN3Config(kwargs: .object([("w_dim", .int(8))])) }
        let base: [(String, JSONValue)] = [("z_dim", .int(8)), ("w_dim", .int(8)), ("img_resolution", .int(16))]
        #expect(throws: ModelError.self) { try StyleGAN3Config(kwargs: .object(base + [("num_layers", .string("6"))])) }
        #expect(throws: ModelError.self) { try StyleGAN3Config(kwargs: .object(base + [("conv_kernel", .number(1.5))])) }
        #expect(throws: ModelError.self) { try StyleGAN3Config(kwargs: .object(base + [("conv_clamp", .string("256"))])) }

        let g = try Self.load("sg3-r-16-cond")
        let z = tensor([2, g.zDim]) { Float($0 % 5) / 5 }
        // Conditional model without c, and a wrong z width.
        #expect(throws: ModelError.self) { try g.generate(GeneratorInputs(z: z)) }
        #expect(throws: ModelError.self) { try g.generate(GeneratorInputs(z: tensor([2, 3]) { Float($0) })) }
        #expect(throws: ModelError.self) { try g.synthesis(ws: tensor([1, 2, 16]) { _ in 0 }, trace: nil) }
    }

    @Test func tracesEveryLayerInCallOrder() throws {
        let g = try Self.load("sg3-t-16-uncond")
        let recorder = TraceRecorder()
        let out = try g.generate(GeneratorInputs(z: tensor([1, 16]) { Float($0) / 16 - 0.5 }), trace: recorder)
        #expect(recorder.entries.map(\.name) == ["mapping", "synthesis.input"] + g.layerNames.map { "synthesis." + $0 })
        #expect(recorder["synthesis.input"]?.shape == [1, 32, 36, 36])
        #expect(out.image.shape == [1, 3, 16, 16])
        // The last layer's output times output_scale (0.25) is the image.
        let last = try #require(recorder["synthesis.L4_16_3"]).floats()
        #expect(zip(last, out.image.floats()).allSatisfy { abs($0 * 0.25 - $1) < 1e-7 })
    }
}
