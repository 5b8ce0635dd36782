/// Index plan of one axis of upfirdn: upsample by `up` (zeros after each sample), pad by `pad0`/`pad1`
/// (negative crops), correlate with `taps` filter taps, keep every `down`-th sample.
///
/// Output `i` reads the zero-stuffed signal at `j = i·down − pad0 + k`; only `k` with `j ≡ 0 (mod up)` hit a
/// real sample, so each output is a short dot product of consecutive input samples with one "phase" of the
/// filter: `out[i] = Σ_t w[phase_i][t] · x[first_i + t]`. `first` is an index into the input row padded with
/// `leftMargin` zeros in front (so it is never negative) and zeros behind up to `paddedLength`.
@usableFromInline
struct FIRAxis: Sendable {
    let inLen: Int, outLen: Int, up: Int, down: Int, taps: Int
    /// Taps per phase (`ceil(taps / up)`); shorter phases are zero-padded.
    let perPhase: Int
    let leftMargin: Int, paddedLength: Int
    let first: [Int]
    let phase: [Int]

    /// nil when the output would be empty.
    init?(inLen: Int, up: Int, down: Int, pad0: Int, pad1: Int, taps: Int) {
        let total = inLen * up + pad0 + pad1 - taps
        guard inLen > 0, up >= 1, down >= 1, taps >= 1, total >= 0 else { return nil }
        let outLen = total / down + 1
        self.inLen = inLen; self.outLen = outLen; self.up = up; self.down = down; self.taps = taps
        perPhase = (taps + up - 1) / up
        var first = [Int](repeating: 0, count: outLen), phase = [Int](repeating: 0, count: outLen)
        var lo = Int.max, hi = Int.min
        for i in 0..<outLen {
            let j0 = i * down - pad0
            let k0 = ((-j0) % up + up) % up
            let ix0 = (j0 + k0) / up   // exact: j0 + k0 is a multiple of up
            first[i] = ix0; phase[i] = k0
            lo = min(lo, ix0); hi = max(hi, ix0 + perPhase)
        }
        let margin = max(0, -lo)
        leftMargin = margin
        paddedLength = margin + max(inLen, hi)
        self.first = first.map { $0 + margin }
        self.phase = phase
    }

    /// The filter `f` (already flipped and gain-scaled, `taps` values with stride `stride`) split into phases:
    /// `[up][perPhase]`, `w[k0][t] = f[k0 + t·up]`, zero where `k0 + t·up ≥ taps`.
    func phaseWeights(_ f: UnsafePointer<Float>, stride: Int = 1) -> [Float] {
        var w = [Float](repeating: 0, count: up * perPhase)
        for k0 in 0..<up {
            var t = 0
            while k0 + t * up < taps { w[k0 * perPhase + t] = f[(k0 + t * up) * stride]; t += 1 }
        }
        return w
    }

    /// Filters one padded row `xp` (`paddedLength` values, margins zero) into `out` (`outLen` values).
    /// `acc` is scratch of at least `outLen / up + 1` floats. Adds into `out` when `accumulate`.
    @inline(__always)
    func filterRow(_ xp: UnsafePointer<Float>, _ w: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                   accumulate: Bool, scratch acc: UnsafeMutablePointer<Float>) {
        let T = perPhase
        first.withUnsafeBufferPointer { first in
        phase.withUnsafeBufferPointer { phase in
            if down == 1 {
                // Outputs r, r+up, r+2·up, … share a phase and read consecutive inputs: AXPYs over them.
                for r in 0..<min(up, outLen) {
                    let count = (outLen - r + up - 1) / up
                    let base = xp + first[r]
                    let wr = w + phase[r] * T
                    let dst = up == 1 && !accumulate ? out : acc
                    let w0 = wr[0]
                    for m in 0..<count { dst[m] = w0 * base[m] }
                    if T > 1 {
                        for t in 1..<T {
                            let wt = wr[t]
                            if wt == 0 { continue }
                            let s = base + t
                            for m in 0..<count { dst[m] += wt * s[m] }
                        }
                    }
                    if up == 1 {
                        if accumulate { for m in 0..<count { out[m] += acc[m] } }
                    } else if accumulate {
                        for m in 0..<count { out[r + m * up] += acc[m] }
                    } else {
                        for m in 0..<count { out[r + m * up] = acc[m] }
                    }
                }
            } else if up == 1 {
                // Plain strided decimation: out[i] = Σ_t w[t]·xp[first_0 + i·down + t].
                let base = xp + first[0]
                let d = down
                for i in 0..<outLen {
                    let s = base + i * d
                    var v: Float = 0
                    for t in 0..<T { v += w[t] * s[t] }
                    out[i] = accumulate ? out[i] + v : v
                }
            } else {
                for i in 0..<outLen {
                    let s = xp + first[i], wr = w + phase[i] * T
                    var v: Float = 0
                    for t in 0..<T { v += wr[t] * s[t] }
                    out[i] = accumulate ? out[i] + v : v
                }
            }
        }
        }
    }

    /// Filters along columns: `src` has `inLen` rows of `width` values, `out` gets `outLen` rows.
    @inline(__always)
    func filterColumns(_ src: UnsafePointer<Float>, _ w: UnsafePointer<Float>, width: Int,
                       into out: UnsafeMutablePointer<Float>) {
        let T = perPhase
        for oy in 0..<outLen {
            let d = out + oy * width
            let start = first[oy] - leftMargin
            let wr = w + phase[oy] * T
            var written = false
            for t in 0..<T {
                let iy = start + t
                let wt = wr[t]
                if iy < 0 || iy >= inLen || wt == 0 { continue }
                let s = src + iy * width
                if written {
                    for x in 0..<width { d[x] += wt * s[x] }
                } else {
                    for x in 0..<width { d[x] = wt * s[x] }
                    written = true
                }
            }
            if !written { d.initialize(repeating: 0, count: width) }
        }
    }
}
