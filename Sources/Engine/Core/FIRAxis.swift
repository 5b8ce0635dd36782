import CEngineKernels

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

    /// The filter `f` (already flipped and gain-scaled, `taps` values with stride `stride`) as `[up][perPhase]`
    /// phases (`w[k0][t] = f[k0 + t·up]`, zero-padded), the layout `filterColumns` reads. `forRows` gives the
    /// layout `filterRow` reads: the same, except for pure decimation by more than 2 (`up == 1`, `down > 2`),
    /// `[down][ceil(taps/down)]` with `w[q][s] = f[q + s·down]`.
    func phaseWeights(_ f: UnsafePointer<Float>, stride: Int = 1, forRows: Bool) -> [Float] {
        if forRows && up == 1 && down > 2 {
            let per = (taps + down - 1) / down
            var w = [Float](repeating: 0, count: down * per)
            for q in 0..<down { var s = 0; while q + s * down < taps { w[q * per + s] = f[(q + s * down) * stride]; s += 1 } }
            return w
        }
        var w = [Float](repeating: 0, count: up * perPhase)
        for k0 in 0..<up {
            var t = 0
            while k0 + t * up < taps { w[k0 * perPhase + t] = f[(k0 + t * up) * stride]; t += 1 }
        }
        return w
    }

    /// Floats of scratch `filterRow` needs.
    var rowScratch: Int { outLen + paddedLength + 32 }

    /// Filters one padded row `xp` (`paddedLength` values, margins zero) into `out` (`outLen` values), adding
    /// into `out` when `accumulate`. `scratch` holds `rowScratch` floats.
    @inline(__always)
    func filterRow(_ xp: UnsafePointer<Float>, _ w: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                   accumulate: Bool, scratch acc: UnsafeMutablePointer<Float>) {
        let T = perPhase
        first.withUnsafeBufferPointer { first in
        phase.withUnsafeBufferPointer { phase in
            if down == 1 && up == 2 && outLen >= 2 {
                // The common StyleGAN case: both phases in one kernel that interleaves in registers.
                let k0 = phase[0], k1 = phase[1]
                ek_fir_up2(out, outLen, xp + first[0], w + k0 * T, (taps - k0 + 1) / 2,
                           xp + first[1], w + k1 * T, (taps - k1 + 1) / 2, accumulate ? 1 : 0)
            } else if down == 2 && up == 1 {
                ek_fir_down2(out, xp + first[0], w, taps, outLen, accumulate ? 1 : 0)
            } else if down == 1 {
                // Outputs r, r+up, r+2·up, … share a phase and read consecutive inputs: one vector FIR each.
                for r in 0..<min(up, outLen) {
                    let count = (outLen - r + up - 1) / up
                    let k0 = phase[r]
                    let valid = (taps - k0 + up - 1) / up
                    let base = xp + first[r]
                    let wr = w + k0 * T
                    if up == 1 {
                        ek_fir_taps(out, base, wr, valid, count, accumulate ? 1 : 0)
                        continue
                    }
                    ek_fir_taps(acc, base, wr, valid, count, 0)
                    if accumulate {
                        for m in 0..<count { out[r + m * up] += acc[m] }
                    } else {
                        for m in 0..<count { out[r + m * up] = acc[m] }
                    }
                }
            } else if up == 1 {
                // Decimation: split the input into `down` interleaved sub-rows, then out = Σ_q FIR(sub_q, w_q).
                let d = down, per = (taps + d - 1) / d
                let base = xp + first[0]
                for q in 0..<d {
                    let sq = (taps - q + d - 1) / d
                    if sq <= 0 { if q == 0 && !accumulate { out.initialize(repeating: 0, count: outLen) }; continue }
                    let len = outLen + sq - 1
                    let src = base + q
                    for j in 0..<len { acc[j] = src[j * d] }
                    ek_fir_taps(out, acc, w + q * per, sq, outLen, (q > 0 || accumulate) ? 1 : 0)
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
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: T) { rows in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: T) { weights in
            for oy in 0..<outLen {
                let start = first[oy] - leftMargin
                let wr = w + phase[oy] * T
                var n = 0
                for t in 0..<T {
                    let iy = start + t
                    if iy < 0 || iy >= inLen || wr[t] == 0 { continue }
                    rows[n] = src + iy * width
                    weights[n] = wr[t]
                    n += 1
                }
                ek_fir_rows(out + oy * width, rows.baseAddress!, weights.baseAddress!, n, width)
            }
        }
        }
    }
}
