/// Generators whose latents are drawn from a truncated normal — BigGAN's truncation trick — rather than N(0, 1).
/// Samplers redraw each value until |x| ≤ `bound`, then multiply by `scale`.
public protocol TruncatedLatentGenerator: Generator {
    func latentTruncation(truncation: Float) -> (bound: Double, scale: Float)
}

extension BigGANDeepGenerator: TruncatedLatentGenerator {
    /// The port's `truncated_noise_sample`: `truncation · truncnorm(−2, 2)` (the truncation also picks the BN
    /// statistics inside the network).
    public func latentTruncation(truncation: Float) -> (bound: Double, scale: Float) { (2, truncation) }
}

extension BigGANGenerator: TruncatedLatentGenerator {
    /// N(0, 1) at truncation 1 (upstream's sampler); below 1 the TF-Hub convention, `truncation · truncnorm(−2, 2)`.
    public func latentTruncation(truncation: Float) -> (bound: Double, scale: Float) {
        truncation < 1 ? (2, truncation) : (.infinity, 1)
    }
}
