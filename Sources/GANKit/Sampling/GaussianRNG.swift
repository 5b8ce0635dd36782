#if canImport(Glibc)
import Glibc
#endif

/// The deterministic Gaussian source behind `gan-sample --seeds`: a Mersenne Twister (MT19937) seeded exactly as
/// `numpy.random.RandomState(seed)`, with numpy's legacy polar Box–Muller normals. So the latent of seed `s` is
/// `numpy.random.RandomState(s).randn(1, z_dim)` — the convention of NVlabs' `generate.py` — and a sample made
/// here can be reproduced in Python.
public struct GaussianRNG {
    private var mt = [UInt32](repeating: 0, count: 624)
    private var index = 624
    private var cachedGauss: Double?

    public init(seed: UInt32) {
        mt[0] = seed
        for i in 1..<624 {
            mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i)
        }
        index = 624
    }

    /// The next 32 random bits.
    public mutating func nextUInt32() -> UInt32 {
        if index >= 624 { twist() }
        var y = mt[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (mt[i] & 0x8000_0000) | (mt[(i + 1) % 624] & 0x7fff_ffff)
            var v = mt[(i + 397) % 624] ^ (y >> 1)
            if y & 1 != 0 { v ^= 0x9908_b0df }
            mt[i] = v
        }
        index = 0
    }

    /// A uniform double in [0, 1) with 53 random bits (numpy's `random_sample`).
    public mutating func nextDouble() -> Double {
        let a = Double(nextUInt32() >> 5), b = Double(nextUInt32() >> 6)
        return (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// A standard normal (numpy's legacy `gauss`: polar method, the second value cached).
    public mutating func nextGaussian() -> Double {
        if let g = cachedGauss {
            cachedGauss = nil
            return g
        }
        var x1 = 0.0, x2 = 0.0, r2 = 0.0
        repeat {
            x1 = 2 * nextDouble() - 1
            x2 = 2 * nextDouble() - 1
            r2 = x1 * x1 + x2 * x2
        } while r2 >= 1 || r2 == 0
        let f = (-2 * log(r2) / r2).squareRoot()
        cachedGauss = f * x1
        return f * x2
    }

    /// `count` normals as Float (numpy computes in float64; the cast happens when the latent enters the model).
    public mutating func gaussians(_ count: Int) -> [Float] {
        (0..<count).map { _ in Float(nextGaussian()) }
    }
}
