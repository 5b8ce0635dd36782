#if canImport(Glibc)
import Glibc
#endif
import Engine
import TensorStore

/// StyleGAN3's `SynthesisInput`: Fourier features on a fixed grid, rotated and translated per sample by an
/// affine of `w`, then the user transform, then mixed across channels.
struct StyleGAN3Input {
    let geometry: StyleGAN3Config.InputGeometry
    let affine: StyleGAN3Dense
    /// `[C, C]`, already divided by √C.
    let mix: Tensor
    /// `[C, 2]` and `[C]`.
    let freqs: [Float], phases: [Float]
    /// The stored 3×3 `transform` buffer, row-major: the *inverse* of the transform wanted on the image.
    let storedTransform: [Float]

    init(_ scope: ParameterScope, geometry g: StyleGAN3Config.InputGeometry, wDim: Int) {
        geometry = g
        affine = StyleGAN3Dense(scope.scope("affine"), inFeatures: wDim, outFeatures: 4)
        let w = scope.tensor("weight", shape: [g.channels, g.channels])
        mix = Ops.scale(w, Float(1 / Double(g.channels).squareRoot()))
        storedTransform = scope.tensor("transform", shape: [3, 3]).floats()
        freqs = scope.tensor("freqs", shape: [g.channels, 2]).floats()
        phases = scope.tensor("phases", shape: [g.channels]).floats()
    }

    /// `w [N, wDim]` → `[N, C, size, size]`. `transform` replaces the stored buffer when given (row-major 3×3).
    func callAsFunction(_ w: Tensor, transform user: [Float]?) throws -> Tensor {
        let n = w.shape[0]
        let c = geometry.channels, size = geometry.size
        let u = user ?? storedTransform
        let t = try affine(w).floats()  // [N, 4]: (r_c, r_s, t_x, t_y)
        let sr = Float(geometry.samplingRate), bw = Float(geometry.bandwidth)
        let twoPi = Float(2 * Double.pi)

        // affine_grid(align_corners=False) with θ = diag(½·size/sr): pixel centres, in float32 as torch does.
        let thetaScale = Float(0.5 * Double(size) / geometry.samplingRate)
        let grid: [Float] = (0..<size).map { j in
            let base = Float(2 * j + 1) / Float(size) - 1
            return base * thetaScale
        }

        var features = [Float](repeating: 0, count: n * c * size * size)
        for s in 0..<n {
            var tc = t[s * 4], ts = t[s * 4 + 1], tx = t[s * 4 + 2], ty = t[s * 4 + 3]
            let norm = (tc * tc + ts * ts).squareRoot()
            tc /= norm; ts /= norm; tx /= norm; ty /= norm
            // m_r · m_t (inverse rotation, then inverse translation), then the user transform.
            let rt: [Float] = [tc, -ts, -(tc * tx) + ts * ty,
                               ts, tc, -(ts * tx) - tc * ty,
                               0, 0, 1]
            var m = [Float](repeating: 0, count: 9)
            for r in 0..<3 {
                for k in 0..<3 {
                    m[r * 3 + k] = rt[r * 3] * u[k] + rt[r * 3 + 1] * u[3 + k] + rt[r * 3 + 2] * u[6 + k]
                }
            }
            let plane = size * size
            for ch in 0..<c {
                let f0 = freqs[ch * 2], f1 = freqs[ch * 2 + 1]
                let phase = phases[ch] + (f0 * m[2] + f1 * m[5])
                let fx = f0 * m[0] + f1 * m[3]
                let fy = f0 * m[1] + f1 * m[4]
                // Dampen frequencies the user transform pushes out of band.
                let amp = min(max(1 - ((fx * fx + fy * fy).squareRoot() - bw) / (sr / 2 - bw), 0), 1)
                let dst = (s * c + ch) * plane
                for y in 0..<size {
                    let gy = grid[y] * fy
                    for x in 0..<size {
                        let arg = (grid[x] * fx + gy) + phase
                        features[dst + y * size + x] = sinf(arg * twoPi) * amp
                    }
                }
            }
        }
        // Channel mix: out[n] = (weight/√C) · features[n] over the flattened plane.
        let feat = Tensor(shape: [n, c, size * size], floats: features)
        let mixed = try Ops.matmul(mix, feat)
        return mixed.reshaped([n, c, size, size])
    }
}
