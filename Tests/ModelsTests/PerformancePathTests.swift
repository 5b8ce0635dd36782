import Engine
import GANKit
import Testing
@testable import Models
import TensorStore

/// The fast paths the models take (batched transposed convs, cached StyleGAN2 modulation, fused noise/bias/lrelu)
/// give the numbers of the plain engine ops they replace.
@Suite struct PerformancePathTests {
    static func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        let values = (0..<shape.reduce(1, *)).map { _ -> Float in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return (Float(s >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
        return Tensor(shape: shape, floats: values)
    }

    static func maxRelativeError(_ a: Tensor, _ b: Tensor) -> Float {
        let x = a.floats(), y = b.floats()
        let scale = max(y.map(abs).max() ?? 0, 1e-12)
        return zip(x, y).map { abs($0 - $1) }.max().map { $0 / scale } ?? .infinity
    }

    struct Geometry: CustomTestStringConvertible, Sendable {
        var batch: Int, cin: Int, cout: Int, size: Int, kernel: Int, stride: Int
        var padding: Padding2D, outputPadding: Int, bias: Bool
        var testDescription: String { "n\(batch) \(cin)→\(cout) \(size)² k\(kernel) s\(stride) \(padding) op\(outputPadding)" }
    }

    static let geometries: [Geometry] = [
        // DCGAN: 1×1 → 4×4, then 4×4 → 8×8 (k4 s2 p1), with and without bias.
        Geometry(batch: 5, cin: 7, cout: 6, size: 1, kernel: 4, stride: 1, padding: 0, outputPadding: 0, bias: false),
        Geometry(batch: 5, cin: 7, cout: 6, size: 1, kernel: 4, stride: 1, padding: 0, outputPadding: 0, bias: true),
        Geometry(batch: 6, cin: 8, cout: 5, size: 4, kernel: 4, stride: 2, padding: 1, outputPadding: 0, bias: false),
        Geometry(batch: 3, cin: 8, cout: 5, size: 8, kernel: 4, stride: 2, padding: 1, outputPadding: 0, bias: true),
        // Keras "same": k5 s2 cropping 1 before, 2 after; k3 s2 with output padding; k3 s1.
        Geometry(batch: 4, cin: 6, cout: 4, size: 7, kernel: 5, stride: 2,
                 padding: Padding2D(top: 1, bottom: 2, left: 1, right: 2), outputPadding: 0, bias: true),
        Geometry(batch: 4, cin: 6, cout: 4, size: 5, kernel: 3, stride: 2, padding: 1, outputPadding: 1, bias: true),
        Geometry(batch: 3, cin: 5, cout: 3, size: 6, kernel: 3, stride: 1, padding: 1, outputPadding: 0, bias: false),
        Geometry(batch: 3, cin: 5, cout: 3, size: 4, kernel: 4, stride: 2, padding: 0, outputPadding: 0, bias: false),
    ]

    @Test(arguments: geometries)
    func batchedConvTransposeMatchesTheEngineOp(_ g: Geometry) throws {
        let x = Self.random([g.batch, g.cin, g.size, g.size], seed: 1)
        let w = Self.random([g.cin, g.cout, g.kernel, g.kernel], seed: 2, scale: 0.3)
        let b = g.bias ? Self.random([g.cout], seed: 3) : nil
        let expected = try Ops.convTranspose2d(x, weight: w, bias: b, stride: Size2(g.stride), padding: g.padding,
                                               outputPadding: Size2(g.outputPadding))
        let batched = try BatchedConvTranspose.apply(x, weight: w, bias: b, stride: g.stride, padding: g.padding,
                                                     outputPadding: g.outputPadding)
        let got = try #require(batched, "this geometry should take the batched path")
        #expect(got.shape == expected.shape)
        #expect(Self.maxRelativeError(got, expected) < 1e-6)
    }

    @Test func singleSamplesAndLargePlanesStayOnTheEngineOp() throws {
        let w = Self.random([4, 3, 4, 4], seed: 2)
        #expect(try BatchedConvTranspose.apply(Self.random([1, 4, 4, 4], seed: 1), weight: w, bias: nil, stride: 2,
                                               padding: 1, outputPadding: 0) == nil)
        #expect(try BatchedConvTranspose.apply(Self.random([2, 4, 32, 32], seed: 1), weight: w, bias: nil, stride: 2,
                                               padding: 1, outputPadding: 0) == nil)
    }

    @Test(arguments: [false, true])
    func cachedModulationMatchesTheEngine(_ transposed: Bool) throws {
        let (n, o, i) = (3, 5, 7)
        let w = Self.random([o, i, 3, 3], seed: 4)
        let styles = Self.random([n, i], seed: 5, scale: 2)
        let expected = try Ops.modulatedWeights(weight: w, styles: styles, demodulate: true)  // [N·O, I, 3, 3]
        let plan = try StyleGAN2Modulation(weight: w, transposed: transposed)
        let got = try plan.modulated(styles: styles)
        if transposed {
            let reference = try Ops.permute(expected.reshaped([n, o, i, 3, 3]), [0, 2, 1, 3, 4]).reshaped([n * i, o, 3, 3])
            #expect(got.shape == [n * i, o, 3, 3])
            #expect(got.floats() == reference.floats())
        } else {
            #expect(got.shape == [n * o, i, 3, 3])
            #expect(got.floats() == expected.floats())
        }
    }

    @Test(arguments: [Float?.none, 0.3])
    func fusedNoiseBiasLReLUMatchesAddThenBiasAct(_ clamp: Float?) throws {
        let y = Self.random([2, 3, 4, 5], seed: 6)
        let noise = Self.random([1, 1, 4, 5], seed: 7)
        let bias = Self.random([3], seed: 8)
        let gain = Float(2).squareRoot() * 0.7
        let expected = try Ops.biasAct(try Ops.add(y, noise), bias: bias, dim: 1, activation: .lrelu, gain: gain, clamp: clamp)
        let fused = y.toFloat32().contiguous()
        let copy = Tensor(shape: fused.shape, floats: fused.floats())
        try StyleGAN2Kernels.addNoiseBiasLReLU(copy, noise: noise, bias: bias, gain: gain, clamp: clamp)
        #expect(copy.floats() == expected.floats())
    }

    /// Untraced runs fuse batch norm + activation in place; traced runs take the plain ops. Same image, and the
    /// caller's z is left alone.
    @Test(arguments: ["dcgan-seed-64.pth", "keras-dcgan-16.h5"])
    func sequentialFusedPassesGiveTheTracedImage(_ name: String) throws {
        let generator = try GeneratorLoader.load(path: ModelFixtures.path(name)).generator
        let z = Self.random([3, generator.zDim], seed: 9)
        let zBefore = z.floats()
        let fast = try generator.generate(GeneratorInputs(z: z)).image
        let traced = try generator.generate(GeneratorInputs(z: z), trace: TraceRecorder()).image
        #expect(fast.shape == traced.shape)
        #expect(fast.floats() == traced.floats())
        #expect(z.floats() == zBefore)
    }
}

/// The sequential generator's fused batch norm + activation equals the engine's separate ops bit for bit,
/// tanh (the vector kernel) included.
@Suite struct SequentialFusedPassTests {
    @Test(arguments: [Activation.tanh, .relu, .leakyRelu(slope: 0.2), .sigmoid])
    func fusedAffineActivationEqualsSeparateOps(_ act: Activation) throws {
        let x = tensor([2, 3, 5, 7]) { Float(($0 * 37) % 23) / 5 - 2 }
        let scale: [Float] = [0.5, -1.25, 2], shift: [Float] = [0.1, 0, -0.3]
        let separate = Ops.activation(try Ops.channelAffine(x, scale: scale, shift: shift), act).floats()
        let fused = Tensor(shape: x.shape, floats: x.floats())
        try SequentialKernels.affineActivationInPlace(fused, scale: scale, shift: shift, activation: act)
        #expect(fused.floats() == separate)
    }
}
