import Testing
import TensorStore
@testable import Engine

/// The fused up-2/down-2 kernel of `filteredLeakyRelu` against the op spelled out step by step with
/// `upfirdn2d` (the reference path of StyleGAN3's `filtered_lrelu`).
@Suite("filtered leaky ReLU fused path agrees with upfirdn2d steps")
struct FilteredLeakyReLUFastPathTests {
    static func values(_ count: Int, seed: UInt64, scale: Float) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return (Float(s >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    static func reference(_ x: Tensor, bias: [Float], up: Tensor?, down: Tensor?, padding: Padding2D, slope: Float,
                          gain: Float, clamp: Float?) throws -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var v = x.floats()
        for i in v.indices { v[i] += bias[(i / (h * w)) % c] }
        let u = try Ops.upfirdn2d(Tensor(shape: [n, c, h, w], floats: v), filter: up, up: 2, padding: padding, gain: 4)
        let a = u.floats().map { t -> Float in
            let y = (t >= 0 ? t : t * slope) * gain
            guard let clamp else { return y }
            return min(max(y, -clamp), clamp)
        }
        return try Ops.upfirdn2d(Tensor(shape: u.shape, floats: a), filter: down, down: 2)
    }

    struct Case: CustomStringConvertible, Sendable {
        var h: Int, w: Int, upTaps: Int, downTaps: Int, pad: [Int], clamp: Float?
        var twoD = false
        var description: String { "\(h)×\(w) up \(upTaps) down \(downTaps) pad \(pad) clamp \(clamp.map { "\($0)" } ?? "nil")\(twoD ? " 2-D" : "")" }
    }

    static let cases: [Case] = [
        Case(h: 52, w: 52, upTaps: 12, downTaps: 12, pad: [9, 8, 9, 8], clamp: 256),
        Case(h: 13, w: 21, upTaps: 12, downTaps: 12, pad: [9, 8, 9, 8], clamp: 1.5),
        Case(h: 7, w: 9, upTaps: 6, downTaps: 12, pad: [3, 2, 5, 4], clamp: nil),
        Case(h: 9, w: 70, upTaps: 5, downTaps: 7, pad: [2, 3, 0, 1], clamp: nil),
        Case(h: 40, w: 9, upTaps: 12, downTaps: 3, pad: [-1, 2, 4, -2], clamp: 2),
        Case(h: 3, w: 3, upTaps: 1, downTaps: 1, pad: [0, 0, 0, 0], clamp: nil),
        Case(h: 6, w: 66, upTaps: 4, downTaps: 4, pad: [2, 1, 2, 1], clamp: nil, twoD: true),
    ]

    @Test(arguments: cases)
    func fusedMatchesSteps(_ k: Case) throws {
        let c = 3
        let x = Tensor(shape: [2, c, k.h, k.w], floats: Self.values(2 * c * k.h * k.w, seed: UInt64(k.h * 131 + k.w), scale: 3))
        let bias = Self.values(c, seed: 7, scale: 1)
        func filter(_ taps: Int, _ seed: UInt64) -> Tensor? {
            if taps == 1 { return nil }
            let f = Self.values(taps, seed: seed, scale: 1).map { 1 + $0 / 2 }
            if k.twoD { return Tensor(shape: [taps, taps], floats: f.flatMap { a in f.map { a * $0 } }) }
            return Tensor(shape: [taps], floats: f)
        }
        let fu = filter(k.upTaps, 11), fd = filter(k.downTaps, 13)
        let pad = Padding2D(xxyy: k.pad)
        let y = try Ops.filteredLeakyRelu(x, bias: Tensor(shape: [c], floats: bias), upFilter: fu, downFilter: fd,
                                          up: 2, down: 2, padding: pad, slope: 0.2, gain: 1.5, clamp: k.clamp)
        let r = try Self.reference(x, bias: bias, up: fu, down: fd, padding: pad, slope: 0.2, gain: 1.5, clamp: k.clamp)
        expectClose(y, r, k.description)
    }

    /// Slopes outside [0, 1] and gains ≤ 0 cannot ride on the weights (lrelu·gain is not max(v, slope·v) then):
    /// the kernel's general activation (compare, blend, multiply, clamp) runs instead of the folded one.
    @Test(arguments: [(slope: Float(1.3), gain: Float(0.8)), (slope: 0.2, gain: -0.7), (slope: -0.5, gain: 2)])
    func generalActivation(slope: Float, gain: Float) throws {
        let (c, h, w) = (2, 11, 37)
        let x = Tensor(shape: [1, c, h, w], floats: Self.values(c * h * w, seed: 5, scale: 3))
        let bias = Self.values(c, seed: 3, scale: 1)
        let f = Tensor(shape: [12], floats: Self.values(12, seed: 11, scale: 1).map { 1 + $0 / 2 })
        let pad = Padding2D(xxyy: [9, 8, 9, 8])
        let y = try Ops.filteredLeakyRelu(x, bias: Tensor(shape: [c], floats: bias), upFilter: f, downFilter: f,
                                          up: 2, down: 2, padding: pad, slope: slope, gain: gain, clamp: 2.5)
        let r = try Self.reference(x, bias: bias, up: f, down: f, padding: pad, slope: slope, gain: gain, clamp: 2.5)
        expectClose(y, r, "slope \(slope) gain \(gain)")
    }
}
