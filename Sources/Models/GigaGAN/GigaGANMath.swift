#if canImport(Glibc)
import Glibc
#endif
import Engine
import TensorStore

/// The small pieces of gigagan-pytorch's forward pass that are not single engine ops. Every function works on
/// contiguous float32 tensors and returns new ones.
enum GigaGANMath {
    static let leakySlope: Float = 0.2
    /// AdaptiveConv2DMod's demodulation floor: `rsqrt(clamp(Σw², min: eps))`.
    static let demodEps: Float = 1e-8

    /// `F.normalize(x, dim=1) · √C · γ` (ChannelRMSNorm): `x / max(‖x‖, 1e-12)` over channels.
    static func channelRMSNorm(_ x: Tensor, gamma: Tensor) throws -> Tensor {
        let c = x.shape[1]
        let normed = try Ops.l2Normalize(x, dim: 1)
        let scale = Float(Double(c).squareRoot())
        let g = gamma.floats()
        let plane = x.shape[2] * x.shape[3]
        var out = normed.floats()
        for b in 0..<x.shape[0] {
            for ch in 0..<c {
                let base = (b * c + ch) * plane
                for p in 0..<plane { out[base + p] = out[base + p] * scale * g[ch] }
            }
        }
        return Tensor(shape: x.shape, floats: out)
    }

    /// `F.normalize(x, dim=-1) · √D · γ` (RMSNorm over the last axis).
    static func rmsNorm(_ x: Tensor, gamma: Tensor) throws -> Tensor {
        let d = x.shape[x.rank - 1]
        let normed = try Ops.l2Normalize(x, dim: x.rank - 1)
        let scale = Float(Double(d).squareRoot())
        let g = gamma.floats()
        var out = normed.floats()
        for i in 0..<out.count { out[i] = out[i] * scale * g[i % d] }
        return Tensor(shape: x.shape, floats: out)
    }

    /// A 1×1 convolution with an `[O, I, 1, 1]` weight.
    static func conv1x1(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
        try Ops.conv2d(x, weight: weight, bias: bias)
    }

    /// AdaptiveConv2DMod: per sample, a softmax mixture of the `N` stored kernels (when `N > 1`), input channels
    /// scaled by `mod + 1`, optional demodulation per output channel, then a stride-1 "same" convolution.
    /// - Parameters:
    ///   - weights: `[N, O, I, k, k]`.
    ///   - mod: `[B, I]` flat, per sample.
    ///   - kernelLogits: `[B, N]` flat when `N > 1`, ignored otherwise.
    static func adaptiveConv(_ x: Tensor, weights: Tensor, mod: [Float], kernelLogits: [Float], demodulate: Bool) throws -> Tensor {
        let (n, o, i, k) = (weights.shape[0], weights.shape[1], weights.shape[2], weights.shape[3])
        let b = x.shape[0]
        let per = o * i * k * k
        let w = weights.floats()
        var combined = [Float](repeating: 0, count: b * per)
        for s in 0..<b {
            var mixed: [Float]
            if n > 1 {
                let attn = softmax(Array(kernelLogits[(s * n)..<((s + 1) * n)]))
                mixed = [Float](repeating: 0, count: per)
                for kn in 0..<n {
                    let a = attn[kn], base = kn * per
                    for e in 0..<per { mixed[e] += w[base + e] * a }
                }
            } else {
                mixed = Array(w[0..<per])
            }
            let kk = k * k
            for oc in 0..<o {
                for ic in 0..<i {
                    let m = mod[s * i + ic] + 1
                    let base = (oc * i + ic) * kk
                    for e in 0..<kk { mixed[base + e] *= m }
                }
                if demodulate {
                    let base = oc * i * kk
                    var sum: Float = 0
                    for e in 0..<(i * kk) { sum += mixed[base + e] * mixed[base + e] }
                    let inv = 1 / max(sum, demodEps).squareRoot()
                    for e in 0..<(i * kk) { mixed[base + e] *= inv }
                }
            }
            combined.replaceSubrange((s * per)..<((s + 1) * per), with: mixed)
        }
        let (h, wd) = (x.shape[2], x.shape[3])
        let grouped = x.reshaped([1, b * i, h, wd])
        let weight = Tensor(shape: [b * o, i, k, k], floats: combined)
        let y = try Ops.conv2d(grouped, weight: weight, padding: Padding2D((k - 1) / 2), groups: b)
        return y.reshaped([b, o, h, wd])
    }

    /// Noise injection: `x + weight[c] · noise[b, 0, y, x]`.
    static func addNoise(_ x: Tensor, weight: Tensor, noise: Tensor) -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let plane = h * w
        var out = x.floats()
        let nw = weight.floats(), nz = noise.floats()
        for s in 0..<b {
            for ch in 0..<c {
                let base = (s * c + ch) * plane
                for p in 0..<plane { out[base + p] += nw[ch] * nz[s * plane + p] }
            }
        }
        return Tensor(shape: x.shape, floats: out)
    }

    /// kornia `filter2d(x, f⊗f, normalized=True)`: reflect padding, depthwise correlation with the outer product of
    /// the stored 1-D filter divided by its absolute sum.
    static func blur(_ x: Tensor, filter f: [Float]) throws -> Tensor {
        let taps = f.count
        var kernel = [Float](repeating: 0, count: taps * taps)
        for y in 0..<taps { for xx in 0..<taps { kernel[y * taps + xx] = f[y] * f[xx] } }
        let norm = kernel.reduce(0) { $0 + abs($1) }
        if norm != 0 { kernel = kernel.map { $0 / norm } }
        let c = x.shape[1]
        let before = (taps - 1) / 2, after = taps - 1 - before
        let padded = try Ops.pad(x, Padding2D(top: before, bottom: after, left: before, right: after), mode: .reflect)
        var weights = [Float]()
        weights.reserveCapacity(c * kernel.count)
        for _ in 0..<c { weights += kernel }
        return try Ops.conv2d(padded, weight: Tensor(shape: [c, 1, taps, taps], floats: weights), groups: c)
    }

    /// Softmax of one row (max-subtracted).
    static func softmax(_ row: [Float]) -> [Float] {
        guard let m = row.max() else { return row }
        let e = row.map { expf($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// Multi-head attention on `[B·heads, L, dh]` queries and `[B·heads, J, dh]` keys/values (already arranged):
    /// `softmax(sim · scale)` with `keep[b][j] == false` filled with `-Float.greatestFiniteMagnitude` after
    /// scaling (as `masked_fill(~mask, -finfo.max)` does), then `· V`.
    /// - Parameter squaredL2: similarity `-(|q|² + |k|² − 2 q·k)` instead of `q·k`.
    static func attend(q: [Float], k: [Float], v: [Float], groups: Int, queries: Int, keys: Int, dimHead: Int,
                       heads: Int, keep: [[Bool]]? = nil, squaredL2: Bool = false) throws -> [Float] {
        let qt = Tensor(shape: [groups, queries, dimHead], floats: q)
        let kt = Tensor(shape: [groups, keys, dimHead], floats: k)
        let vt = Tensor(shape: [groups, keys, dimHead], floats: v)
        let scale = Float(pow(Double(dimHead), -0.5))
        if !squaredL2 {
            // The engine's attention fills masked scores with -finfo.max after scaling, as upstream does.
            let batch = groups / heads
            let mask = keep.map { k in Tensor(shape: [batch, 1, 1, keys], floats: k.flatMap { $0.map { $0 ? 1 : 0 } }) }
            return try Ops.attention(query: qt.reshaped([batch, heads, queries, dimHead]),
                                     key: kt.reshaped([batch, heads, keys, dimHead]),
                                     value: vt.reshaped([batch, heads, keys, dimHead]), scale: scale, keep: mask).floats()
        }
        // Negative squared L2 distance (the Discriminator-style similarity), computed from dot products as upstream does.
        var sim = try Ops.matmul(qt, kt, transposeB: true).floats()
        let qq = (0..<(groups * queries)).map { r in (0..<dimHead).reduce(Float(0)) { $0 + q[r * dimHead + $1] * q[r * dimHead + $1] } }
        let kq = (0..<(groups * keys)).map { r in (0..<dimHead).reduce(Float(0)) { $0 + k[r * dimHead + $1] * k[r * dimHead + $1] } }
        for g in 0..<groups {
            let sample = g / heads
            for i in 0..<queries {
                let row = (g * queries + i) * keys
                var values = [Float](repeating: 0, count: keys)
                for j in 0..<keys {
                    var s = -(qq[g * queries + i] + kq[g * keys + j] - 2 * sim[row + j]) * scale
                    if let keep, !keep[sample][j] { s = -Float.greatestFiniteMagnitude }
                    values[j] = s
                }
                let p = softmax(values)
                for j in 0..<keys { sim[row + j] = p[j] }
            }
        }
        return try Ops.matmul(Tensor(shape: [groups, queries, keys], floats: sim), vt).floats()
    }

    /// `[B, heads·dh, H, W]` (channels `(h d)`) → `[B·heads, H·W, dh]`.
    static func headsFromChannels(_ x: Tensor, heads: Int) -> [Float] {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let dh = c / heads, l = h * w
        let src = x.floats()
        var out = [Float](repeating: 0, count: src.count)
        for s in 0..<b {
            for hd in 0..<heads {
                for d in 0..<dh {
                    let from = (s * c + hd * dh + d) * l
                    let to = (s * heads + hd) * l * dh + d
                    for p in 0..<l { out[to + p * dh] = src[from + p] }
                }
            }
        }
        return out
    }

    /// `[B·heads, H·W, dh]` → `[B, heads·dh, H, W]`.
    static func channelsFromHeads(_ x: [Float], batch b: Int, heads: Int, dimHead dh: Int, height h: Int, width w: Int) -> Tensor {
        let l = h * w, c = heads * dh
        var out = [Float](repeating: 0, count: x.count)
        for s in 0..<b {
            for hd in 0..<heads {
                for d in 0..<dh {
                    let to = (s * c + hd * dh + d) * l
                    let from = (s * heads + hd) * l * dh + d
                    for p in 0..<l { out[to + p] = x[from + p * dh] }
                }
            }
        }
        return Tensor(shape: [b, c, h, w], floats: out)
    }

    /// `[B, L, width]` token features, columns `offset ..< offset + heads·dh` laid out `(h d)` →
    /// `[B·heads, L, dh]`.
    static func headsFromTokens(_ x: [Float], batch b: Int, tokens l: Int, width: Int, offset: Int, heads: Int, dimHead dh: Int) -> [Float] {
        var out = [Float](repeating: 0, count: b * heads * l * dh)
        for s in 0..<b {
            for hd in 0..<heads {
                for t in 0..<l {
                    let from = (s * l + t) * width + offset + hd * dh
                    let to = ((s * heads + hd) * l + t) * dh
                    for d in 0..<dh { out[to + d] = x[from + d] }
                }
            }
        }
        return out
    }

    /// `[B·heads, L, dh]` → `[B, L, heads·dh]`.
    static func tokensFromHeads(_ x: [Float], batch b: Int, tokens l: Int, heads: Int, dimHead dh: Int) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        let c = heads * dh
        for s in 0..<b {
            for hd in 0..<heads {
                for t in 0..<l {
                    let from = ((s * heads + hd) * l + t) * dh
                    let to = (s * l + t) * c + hd * dh
                    for d in 0..<dh { out[to + d] = x[from + d] }
                }
            }
        }
        return out
    }

    /// Prepends one learned token per head (`null_kv[which]`, `[heads, dh]`) to `[B·heads, L, dh]`.
    static func prependNull(_ x: [Float], null: [Float], batch b: Int, heads: Int, tokens l: Int, dimHead dh: Int) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(b * heads * (l + 1) * dh)
        for s in 0..<b {
            for hd in 0..<heads {
                out += null[(hd * dh)..<((hd + 1) * dh)]
                let base = (s * heads + hd) * l * dh
                out += x[base..<(base + l * dh)]
            }
        }
        return out
    }
}
