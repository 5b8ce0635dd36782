import Foundation
import Testing
@testable import GANKit

/// A generator whose output is a fixed function of z, for testing the verifier without an engine.
final class AffineGenerator: Generator {
    let scale: Float
    init(scale: Float) { self.scale = scale }
    var architecture: String { "test" }
    var source: String { "test" }
    var config: JSONValue { .object([]) }
    var zDim: Int { 4 }
    var cDim: Int { 0 }
    var outputRange: OutputRange { .minusOneToOne }
    var summary: String { "test" }
    var parameters: OrderedDictionary<String, Tensor> { [:] }
    func generate(_ inputs: GeneratorInputs, trace: TraceSink?) throws -> GeneratorOutput {
        let z = inputs.z.floats()
        let hidden = Tensor(shape: [inputs.count, 4], floats: z.map { $0 * 2 })
        trace?.record("layers.0", hidden)
        let image = Tensor(shape: [inputs.count, 1, 2, 2], floats: z.map { $0 * 2 * scale })
        trace?.record("layers.1", image)
        return GeneratorOutput(image: image)
    }
}

@Suite struct VerificationTests {
    func golden(scale: Float, traces: Bool) -> Golden {
        let z = tensor([3, 4]) { Float($0) / 5 - 1 }
        var expected: OrderedDictionary<String, Tensor> = [:]
        expected["image"] = Tensor(shape: [3, 1, 2, 2], floats: z.floats().map { $0 * 2 * scale })
        if traces {
            expected["trace.layers.0"] = Tensor(shape: [3, 4], floats: z.floats().map { $0 * 2 })
            expected["trace.layers.1"] = expected["image"]
        }
        return Golden(z: z, expected: expected)
    }

    @Test func passesOnItsOwnOutput() throws {
        let report = try Verifier.verify(AffineGenerator(scale: 1), golden: golden(scale: 1, traces: true))
        #expect(report.passed)
        #expect(report.comparisons.map(\.name) == ["image"])
        #expect(report.traces.count == 2)
        #expect(report.comparisons[0].maxAbsError == 0)
    }

    @Test func relativeErrorIsScaledByTheGoldensMagnitude() throws {
        // Output 2·z·1.5 vs 2·z·1: |diff| = |z|, and max|golden| = 2·max|z| > 1 → relative = 1/2.
        let g = golden(scale: 1, traces: false)
        let maxZ = g.z.floats().map { abs($0) }.max()!
        let report = try Verifier.verify(AffineGenerator(scale: 1.5), golden: g)
        #expect(!report.passed)
        let c = report.comparisons[0]
        #expect(abs(c.maxAbsError - Double(maxZ)) < 1e-6)
        #expect(abs(c.relativeError - 0.5) < 1e-6)
    }

    @Test func namesTheFirstDriftingLayer() throws {
        let report = try Verifier.verify(AffineGenerator(scale: 1.001), golden: golden(scale: 1, traces: true))
        #expect(!report.passed)
        #expect(report.firstDriftingLayer == "layers.1")
        #expect(report.traces.first?.passed == true)
        #expect(report.text(checkpoint: "x", golden: "y").contains("first drifting layer: layers.1"))
    }

    @Test func toleranceIsRespected() throws {
        let loose = try Verifier.verify(AffineGenerator(scale: 1.001), golden: golden(scale: 1, traces: false), tolerance: 1e-2)
        #expect(loose.passed)
    }

    @Test func goldenRoundTripsThroughNPZ() throws {
        let dir = temporaryDirectory()
        var g = golden(scale: 1, traces: true)
        g.labels = [2, 0, 1]
        g.truncation = 0.5
        try g.write(to: dir + "/g.npz")
        let back = try Golden.read(path: dir + "/g.npz")
        #expect(back.z.floats() == g.z.floats())
        #expect(back.labels == [2, 0, 1])
        #expect(back.truncation == 0.5)
        #expect(Array(back.expected.keys) == ["image", "trace.layers.0", "trace.layers.1"])
        let inputs = try back.inputs(classes: 3)
        #expect(inputs.c?.floats() == [0, 0, 1, 1, 0, 0, 0, 1, 0])
        #expect(throws: ModelError.self) { try back.inputs(classes: 2) }
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func sharedFixtureGoldensParse() throws {
        let g = try Golden.read(path: ModelFixtures.path("sg2-skip-16-cond.golden.npz"))
        #expect(g.c?.shape == [2, 4])
        #expect(g.expected["ws"]?.shape == [2, 6, 16])
        #expect(g.truncation > 0 && g.truncation <= 1)
        let u = try Golden.read(path: ModelFixtures.path("sg2-skip-32-uncond.golden.npz"))
        #expect(u.c == nil)  // stored as [N, 0]
    }

    @Test func missingImageIsBadInput() throws {
        var store = TensorStore()
        try store.insert(tensor([1, 4]) { Float($0) }, named: "z")
        #expect(throws: ModelError.self) { try Golden(store: store) }
    }
}

@Suite struct BindingTests {
    func store() throws -> TensorStore {
        var s = TensorStore()
        try s.insert(tensor([2, 3]) { Float($0) }, named: "a.weight")
        try s.insert(tensor([3]) { Float($0) }, named: "a.bias")
        try s.insert(tensor([4]) { Float($0) }, named: "extra")
        try s.insert(tensor([1]) { _ in 0 }, named: "a.num_batches_tracked")
        return s
    }

    @Test func reportsEverythingTogether() throws {
        let raw = try store()
        let binder = ParameterBinder(raw: raw, mapping: ParameterMapping(
            resolve: { raw[$0] != nil ? .raw($0) : nil }, ignorable: { $0.hasSuffix("num_batches_tracked") }),
            architecture: "test", file: "f.pth")
        let a = binder.root.scope("a")
        _ = a.tensor("weight", shape: [3, 2])  // wrong shape
        _ = a.tensor("bias", shape: [3])
        _ = a.tensor("gamma", shape: [3])  // missing
        #expect(a.optionalTensor("beta", shape: [3]) == nil)
        do {
            try binder.finish()
            Issue.record("expected a binding error")
        } catch let e as BindingError {
            #expect(e.missing == ["a.gamma"])
            #expect(e.unexpected == ["extra"])
            #expect(e.mismatched.map(\.name) == ["a.weight"])
            #expect(e.description.contains("f.pth"))
        }
    }

    @Test func transformsApply() throws {
        let raw = try store()
        let binder = ParameterBinder(raw: raw, mapping: ParameterMapping(resolve: { name in
            switch name {
            case "w": return .raw("a.weight", .permute([1, 0]))
            case "b": return .raw("a.bias", .add(1))
            case "f": return .raw("a.weight", .flipSpatial)
            default: return nil
            }
        }, owns: { $0.hasPrefix("a.") && !$0.hasSuffix("tracked") }), architecture: "test")
        let w = binder.root.tensor("w", shape: [3, 2])
        #expect(w.floats() == [0, 3, 1, 4, 2, 5])
        #expect(binder.root.tensor("b", shape: [3]).floats() == [1, 2, 3])
        #expect(binder.root.tensor("f", shape: [2, 3]).floats() == [5, 4, 3, 2, 1, 0])
        try binder.finish()
        #expect(Array(binder.bound.keys) == ["w", "b", "f"])
    }
}
