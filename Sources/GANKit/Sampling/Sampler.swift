#if canImport(Glibc)
import Glibc
#endif
import Models
import TensorStore

/// Makes sample batches from seeds: the latent of seed `s` is `GaussianRNG(seed: s).gaussians(zDim)`
/// (= `numpy.random.RandomState(s).randn(1, z_dim)`).
public struct Sampler {
    public var generator: Generator
    public var truncation: Float
    /// StyleGAN v1 convention: truncate only W layers `0 ..< cutoff` (official v1 default 8); nil = all layers.
    public var truncationCutoff: Int?
    /// Class index for conditional models (one-hot `c`); nil means class 0 for conditional models.
    public var classIndex: Int?

    public init(generator: Generator, truncation: Float = 1, truncationCutoff: Int? = nil, classIndex: Int? = nil) {
        self.generator = generator
        self.truncation = truncation
        self.truncationCutoff = truncationCutoff
        self.classIndex = classIndex
    }

    /// The latent of one seed.
    public static func latent(seed: UInt32, zDim: Int) -> [Float] {
        var rng = GaussianRNG(seed: seed)
        return rng.gaussians(zDim)
    }

    /// The latent of one seed for this generator: N(0, 1), or for truncated-latent generators (BigGAN) the
    /// same stream with values outside ±bound redrawn, times the truncation scale.
    public func latent(seed: UInt32) -> [Float] {
        guard let t = generator as? TruncatedLatentGenerator else { return Sampler.latent(seed: seed, zDim: generator.zDim) }
        let (bound, scale) = t.latentTruncation(truncation: truncation)
        var rng = GaussianRNG(seed: seed)
        return (0..<generator.zDim).map { _ in
            var x = rng.nextGaussian()
            while abs(x) > bound { x = rng.nextGaussian() }
            return Float(x) * scale
        }
    }

    func condition(count: Int) throws -> Tensor? {
        let classes = generator.cDim
        guard classes > 0 else {
            if let k = classIndex { throw ModelError("--class \(k) given but the model is unconditional") }
            return nil
        }
        let k = classIndex ?? 0
        guard k >= 0 && k < classes else { throw ModelError("class \(k) is outside 0..<\(classes)") }
        var v = [Float](repeating: 0, count: count * classes)
        for i in 0..<count { v[i * classes + k] = 1 }
        return Tensor(shape: [count, classes], floats: v)
    }

    /// One image per seed, `[N, C, H, W]`; `progress(done, total)` after each.
    public func images(seeds: [UInt32], progress: ((Int, Int) -> Void)? = nil) throws -> Tensor {
        var parts: [Tensor] = []
        for (i, seed) in seeds.enumerated() {
            let z = Tensor(shape: [1, generator.zDim], floats: latent(seed: seed))
            let out = try generator.generate(GeneratorInputs(z: z, c: try condition(count: 1), truncation: truncation,
                                                             truncationCutoff: truncationCutoff))
            parts.append(out.image)
            progress?(i + 1, seeds.count)
        }
        return try Sampler.concatenate(parts)
    }

    /// An interpolation strip from seed A to seed B in `steps` images: slerp in z, or lerp in W for style-based
    /// generators (the usual choice there, since W is where the mapping makes the space flat).
    public func interpolation(from a: UInt32, to b: UInt32, steps: Int, progress: ((Int, Int) -> Void)? = nil) throws -> Tensor {
        guard steps >= 2 else { throw ModelError("an interpolation needs at least 2 steps") }
        let za = latent(seed: a), zb = latent(seed: b)
        let c = try condition(count: 1)
        var parts: [Tensor] = []
        if let style = generator as? StyleBasedGenerator {
            let wa = try style.mapping(z: Tensor(shape: [1, za.count], floats: za), c: c, truncation: truncation, truncationCutoff: truncationCutoff, trace: nil).floats()
            let wb = try style.mapping(z: Tensor(shape: [1, zb.count], floats: zb), c: c, truncation: truncation, truncationCutoff: truncationCutoff, trace: nil)
            let wbf = wb.floats()
            for s in 0..<steps {
                let t = Float(s) / Float(steps - 1)
                let w = zip(wa, wbf).map { $0 + t * ($1 - $0) }
                parts.append(try style.synthesis(ws: Tensor(shape: wb.shape, floats: w), trace: nil))
                progress?(s + 1, steps)
            }
        } else {
            for s in 0..<steps {
                let z = Sampler.slerp(za, zb, Double(s) / Double(steps - 1))
                let out = try generator.generate(GeneratorInputs(z: Tensor(shape: [1, z.count], floats: z), c: c, truncation: truncation,
                                                             truncationCutoff: truncationCutoff))
                parts.append(out.image)
                progress?(s + 1, steps)
            }
        }
        return try Sampler.concatenate(parts)
    }

    /// Spherical interpolation (falls back to lerp for nearly parallel vectors).
    public static func slerp(_ a: [Float], _ b: [Float], _ t: Double) -> [Float] {
        var dot = 0.0, na = 0.0, nb = 0.0
        for i in 0..<a.count { dot += Double(a[i]) * Double(b[i]); na += Double(a[i] * a[i]); nb += Double(b[i] * b[i]) }
        let cosine = max(-1, min(1, dot / max((na * nb).squareRoot(), 1e-12)))
        let omega = acos(cosine)
        if abs(sin(omega)) < 1e-6 { return zip(a, b).map { $0 + Float(t) * ($1 - $0) } }
        let wa = sin((1 - t) * omega) / sin(omega), wb = sin(t * omega) / sin(omega)
        return zip(a, b).map { Float(wa * Double($0) + wb * Double($1)) }
    }

    /// Stacks `[1, C, H, W]` (or `[k, C, H, W]`) batches along the batch axis.
    static func concatenate(_ parts: [Tensor]) throws -> Tensor {
        guard let first = parts.first else { throw ModelError("nothing to sample") }
        let inner = Array(first.shape.dropFirst())
        var values: [Float] = []
        var n = 0
        for p in parts {
            guard Array(p.shape.dropFirst()) == inner else { throw ModelError("images of different shapes: \(p.shape) vs \(first.shape)") }
            values += p.floats()
            n += p.shape[0]
        }
        return Tensor(shape: [n] + inner, floats: values)
    }
}
