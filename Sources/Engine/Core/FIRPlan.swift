import TensorStore

/// A 2-D FIR resampling step (StyleGAN's `upfirdn2d`) prepared for one input size: filter flipped and scaled by
/// the gain, split into phases per axis, separable when the filter is (1-D filters, and 2-D filters that are an
/// outer product), full 2-D otherwise. `run` filters one plane; scratch comes from the caller.
@usableFromInline
struct FIRPlan: Sendable {
    let axisX: FIRAxis, axisY: FIRAxis
    /// Separable: x weights `[up.w][perPhase]` and y weights `[up.h][perPhase]`.
    /// Full: `kh` x-weight tables (one per filter row) and the unused `wy`.
    let wx: [Float], wy: [Float]
    let fullRows: Int   // 0 when separable, else the filter's row count
    var inH: Int { axisY.inLen }
    var inW: Int { axisX.inLen }
    var outH: Int { axisY.outLen }
    var outW: Int { axisX.outLen }

    /// Floats of scratch `run` needs.
    var scratchCount: Int {
        let rowScratch = axisX.paddedLength + axisX.rowScratch + 16
        if fullRows == 0 { return rowScratch + inH * outW }
        return rowScratch + inH * axisX.paddedLength
    }

    /// - Parameters:
    ///   - filter: 1-D `[k]` (same taps on both axes, `√gain` per pass), 2-D `[kh, kw]` (`gain` once), or nil
    ///     (identity, `[[gain]]`).
    init(op: String, inH: Int, inW: Int, filter: Tensor?, up: Size2, down: Size2, padding: Padding2D,
         flipFilter: Bool, gain: Float) throws(EngineError) {
        try require(up.h >= 1 && up.w >= 1 && down.h >= 1 && down.w >= 1, op, "up \(up) and down \(down) must be ≥ 1")
        var fx: [Float] = [], fy: [Float] = [], full: [Float] = []
        var kh = 1, kw = 1
        if let filter {
            let f = filter.floats()
            try require(f.allSatisfy { $0.isFinite }, op, "filter has non-finite taps")
            switch filter.rank {
            case 1:
                try require(!f.isEmpty, op, "empty filter")
                let s = Float(Double(gain).squareRoot())
                let g = f.map { $0 * s }
                fx = flipFilter ? g : g.reversed(); fy = fx
                kh = fx.count; kw = fx.count
            case 2:
                kh = filter.shape[0]; kw = filter.shape[1]
                try require(kh >= 1 && kw >= 1, op, "empty filter \(filter.shape)")
                var g = f.map { $0 * gain }
                if !flipFilter { g.reverse() }   // reversing the flat array flips both axes
                if let (col, row) = FIRPlan.factor(g, kh, kw) { fy = col; fx = row } else { full = g }
            default:
                throw EngineError(op, "filter must be 1-D or 2-D, got \(filter.shape)")
            }
        } else {
            fx = [gain]; fy = [1]
        }
        guard let ax = FIRAxis(inLen: inW, up: up.w, down: down.w, pad0: padding.left, pad1: padding.right, taps: kw),
              let ay = FIRAxis(inLen: inH, up: up.h, down: down.h, pad0: padding.top, pad1: padding.bottom, taps: kh) else {
            throw EngineError(op, "input \(inH)×\(inW) with up \(up), padding \(padding), filter \(kh)×\(kw), down \(down) gives no output")
        }
        axisX = ax; axisY = ay
        if full.isEmpty {
            wx = fx.withUnsafeBufferPointer { ax.phaseWeights($0.baseAddress!, forRows: true) }
            wy = fy.withUnsafeBufferPointer { ay.phaseWeights($0.baseAddress!, forRows: false) }
            fullRows = 0
        } else {
            var tables: [Float] = []
            full.withUnsafeBufferPointer { f in
                for r in 0..<kh { tables += ax.phaseWeights(f.baseAddress! + r * kw, forRows: true) }
            }
            wx = tables; wy = []
            fullRows = kh
        }
    }

    /// `f ≈ col ⊗ row` when the 2-D filter has rank one (relative error ≤ 1e-7 of its largest tap), else nil.
    static func factor(_ f: [Float], _ kh: Int, _ kw: Int) -> ([Float], [Float])? {
        guard let pivot = f.indices.max(by: { abs(f[$0]) < abs(f[$1]) }), f[pivot] != 0 else { return nil }
        let r = pivot / kw, c = pivot % kw
        let col = (0..<kh).map { f[$0 * kw + c] }
        let row = (0..<kw).map { f[r * kw + $0] / f[pivot] }
        let scale = abs(f[pivot])
        for i in 0..<kh { for j in 0..<kw where abs(col[i] * row[j] - f[i * kw + j]) > scale * 1e-7 { return nil } }
        return (col, row)
    }

    /// Filters one `inH × inW` plane into `outH × outW`, adding `bias` to every input sample first.
    @inline(__always)
    func run(_ src: UnsafePointer<Float>, bias: Float = 0, into dst: UnsafeMutablePointer<Float>,
             scratch: UnsafeMutablePointer<Float>) {
        let ax = axisX, ay = axisY
        let padded = ax.paddedLength, lm = ax.leftMargin
        let acc = scratch + padded
        wx.withUnsafeBufferPointer { wxb in
            let wxp = wxb.baseAddress!
            if fullRows == 0 {
                let xp = scratch
                let tmp = acc + ax.rowScratch + 16
                xp.initialize(repeating: 0, count: padded)
                // Rows no output row reads (cropped away) are skipped.
                let rowLo = max(0, ay.first.first! - ay.leftMargin)
                let rowHi = min(ay.inLen, ay.first.last! - ay.leftMargin + ay.perPhase)
                for iy in rowLo..<max(rowLo, rowHi) {
                    let s = src + iy * ax.inLen
                    let d = xp + lm
                    if bias == 0 { d.update(from: s, count: ax.inLen) } else { for i in 0..<ax.inLen { d[i] = s[i] + bias } }
                    ax.filterRow(xp, wxp, into: tmp + iy * ax.outLen, accumulate: false, scratch: acc)
                }
                wy.withUnsafeBufferPointer { wyb in
                    ay.filterColumns(tmp, wyb.baseAddress!, width: ax.outLen, into: dst)
                }
            } else {
                // Full 2-D filter: pad every input row once, then each output row sums filtered input rows.
                let rows = acc + ax.rowScratch + 16
                for iy in 0..<ay.inLen {
                    let d = rows + iy * padded
                    d.initialize(repeating: 0, count: padded)
                    let s = src + iy * ax.inLen
                    if bias == 0 { (d + lm).update(from: s, count: ax.inLen) } else { for i in 0..<ax.inLen { d[lm + i] = s[i] + bias } }
                }
                let tableSize = wx.count / fullRows  // one filterRow table per filter row
                for oy in 0..<ay.outLen {
                    let out = dst + oy * ax.outLen
                    let k0 = ay.phase[oy], start = ay.first[oy] - ay.leftMargin
                    var written = false
                    for t in 0..<ay.perPhase {
                        let ky = k0 + t * ay.up, iy = start + t
                        if ky >= fullRows || iy < 0 || iy >= ay.inLen { continue }
                        ax.filterRow(rows + iy * padded, wxp + ky * tableSize, into: out, accumulate: written, scratch: acc)
                        written = true
                    }
                    if !written { out.initialize(repeating: 0, count: ax.outLen) }
                }
            }
        }
    }
}
