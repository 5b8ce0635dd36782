import Testing
import TensorStore
@testable import Engine

@Suite("upfirdn2d and filtered leaky ReLU against the StyleGAN reference maths")
struct FIRTests {
    @Test(arguments: ["upfirdn_upsample2d", "upfirdn_downsample2d", "upfirdn_blur_sg2", "upfirdn_sep12_up2_crop",
                      "upfirdn_sep12_down2", "upfirdn_full2d_asym", "upfirdn_full2d_asym_flip", "upfirdn_sep5_asym_up3",
                      "upfirdn_identity_pad"])
    func upfirdn2d(name: String) throws {
        let g = try Golden(name)
        let up = try g.ints("up"), down = try g.ints("down")   // [x, y] as in upfirdn2d's arguments
        let y = try Ops.upfirdn2d(g["x"], filter: g.has("filter") ? g["filter"] : nil, up: Size2(up[1], up[0]),
                                  down: Size2(down[1], down[0]), padding: Padding2D(xxyy: try g.ints("padding")),
                                  flipFilter: try g.ints("flip")[0] != 0, gain: try g.float("gain"))
        expectClose(y, try g["out"], name)
    }

    @Test(arguments: ["flrelu_sg3_layer", "flrelu_torgb", "flrelu_radial", "flrelu_up_only"])
    func filteredLeakyRelu(name: String) throws {
        let g = try Golden(name)
        let clamp = try g.float("clamp")
        let y = try Ops.filteredLeakyRelu(g["x"], bias: g["bias"],
                                          upFilter: g.has("up_filter") ? g["up_filter"] : nil,
                                          downFilter: g.has("down_filter") ? g["down_filter"] : nil,
                                          up: try g.ints("up")[0], down: try g.ints("down")[0],
                                          padding: Padding2D(xxyy: try g.ints("padding")),
                                          slope: try g.float("slope"), gain: try g.float("gain"),
                                          clamp: clamp >= 0 ? clamp : nil)
        expectClose(y, try g["out"], name)
    }

    @Test func setupFilterMatchesStyleGAN() throws {
        let f = Ops.setupFilter([1, 3, 3, 1])
        #expect(f.shape == [4, 4])
        #expect(f.floats()[5] == 9.0 / 64)
        let s = Ops.setupFilter([1, 2, 3, 4, 4, 3, 2, 1], gain: 4)
        #expect(s.shape == [8])
        // 1-D filters get gain^(1/2): 2 × 1/20.
        #expect(abs(s.floats()[0] - 0.1) < 1e-7)
    }

    @Test func rankOneFilterFactorisation() throws {
        // A separable 2-D filter runs separably; a non-separable one keeps the 2-D path. Both must agree with a
        // direct sum, which this checks on an impulse (the output is the flipped filter, scaled by gain).
        var impulse = [Float](repeating: 0, count: 49); impulse[24] = 1
        let x = Tensor(shape: [1, 1, 7, 7], floats: impulse)
        for taps in [[Float](arrayLiteral: 1, 2, 3, 4, 5, 6, 7, 8, 9), [1, 3, 3, 1, 3, 9, 9, 3, 3, 9, 9, 3, 1, 3, 3, 2]] {
            let k = taps.count == 9 ? 3 : 4
            let f = Tensor(shape: [k, k], floats: taps)
            let y = try Ops.upfirdn2d(x, filter: f, padding: Padding2D(k - 1), gain: 2).floats()
            let side = 7 + k - 1
            for ky in 0..<k { for kx in 0..<k {
                // out[oy, ox] = Σ f'[ky,kx]·in[oy+ky−(k−1), ox+kx−(k−1)] with f' = flip(f): the impulse at (3,3)
                // lands at out[3 + (k−1) − ky', ...]; equivalently out[3 + j, 3 + i] = 2·f[j, i].
                let got = y[(3 + ky) * side + 3 + kx]
                #expect(abs(got - 2 * taps[ky * k + kx]) < 1e-5, "tap (\(ky),\(kx)) of \(k)×\(k) filter")
            } }
        }
    }
}

@Suite("FIR fast paths agree with the generic path")
struct FIRFastPathTests {
    static func ramp(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { Float(($0 * 37) % 101) / 50 - 1 })
    }

    @Test(arguments: [1, 2, 3, 7, 16, 31, 33, 47, 64, 70])
    func upsampleByTwoMatchesZeroStuffing(width: Int) throws {
        let x = Self.ramp([1, 2, 3, width])
        let f = Tensor(shape: [6], floats: [0.05, 0.2, 0.4, 0.3, 0.1, -0.05])
        let pad = Padding2D(x0: 3, x1: 2, y0: 2, y1: 3)
        let fast = try Ops.upfirdn2d(x, filter: f, up: 2, padding: pad, gain: 4)
        // Zero-stuff by hand (a sample then a zero), then filter without upsampling.
        var z = [Float](repeating: 0, count: 2 * 6 * 2 * width)
        let xs = x.floats()
        for p in 0..<2 { for y in 0..<3 { for i in 0..<width { z[(p * 6 + 2 * y) * 2 * width + 2 * i] = xs[(p * 3 + y) * width + i] } } }
        let slow = try Ops.upfirdn2d(Tensor(shape: [1, 2, 6, 2 * width], floats: z), filter: f, padding: pad, gain: 4)
        expectClose(fast, slow, "up=2 width \(width)")
    }

    @Test(arguments: [12, 13, 33, 50, 63, 96, 97, 130])
    func downsampleByTwoMatchesSlicing(width: Int) throws {
        let x = Self.ramp([1, 2, 14, width])
        let f = Tensor(shape: [12], floats: (0..<12).map { 1 + Float($0 % 5) })
        let fast = try Ops.upfirdn2d(x, filter: f, down: 2)
        let full = try Ops.upfirdn2d(x, filter: f)
        let slow = try Ops.slice(try Ops.slice(full, dim: 2, start: 0, step: 2), dim: 3, start: 0, step: 2)
        expectClose(fast, slow, "down=2 width \(width)")
    }

    /// Decimation by 3 and 4 (the reordered per-phase tables of pure decimation) against filtering at full rate
    /// and slicing, with tap counts that do and do not divide by the factor, separable and full 2-D filters.
    @Test(arguments: [(down: 3, taps: 4), (down: 3, taps: 6), (down: 4, taps: 5), (down: 4, taps: 12)])
    func downsampleByMoreThanTwoMatchesSlicing(down: Int, taps: Int) throws {
        let x = Self.ramp([1, 2, 17, 23])
        let f1 = Tensor(shape: [taps], floats: (0..<taps).map { 1 + Float($0 % 5) })
        let f2 = Tensor(shape: [taps, taps], floats: (0..<(taps * taps)).map { 1 + Float(($0 * 7) % 11) })
        for f in [f1, f2] {
            let fast = try Ops.upfirdn2d(x, filter: f, down: Size2(down))
            let full = try Ops.upfirdn2d(x, filter: f)
            let slow = try Ops.slice(try Ops.slice(full, dim: 2, start: 0, step: down), dim: 3, start: 0, step: down)
            expectClose(fast, slow, "down=\(down) filter \(f.shape)")
        }
    }
}
