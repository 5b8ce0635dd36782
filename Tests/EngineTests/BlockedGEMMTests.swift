import Testing
@testable import Engine
import CEngineKernels

/// The engine's blocked GEMM against a double-precision product, on shapes that reach every edge: partial
/// 12-row and 32-column tiles, a KC slab remainder (k > 512), an NC block remainder (n > 256), and the split
/// across threads by rows and by columns.
@Suite("Blocked GEMM")
struct BlockedGEMMTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let m: Int, n: Int, k: Int
        var testDescription: String { "\(m)×\(n)×\(k)" }
    }

    static let shapes = [Case(m: 1, n: 1, k: 1), Case(m: 13, n: 33, k: 7), Case(m: 12, n: 32, k: 256),
                         Case(m: 25, n: 70, k: 300), Case(m: 37, n: 545, k: 530), Case(m: 130, n: 40, k: 19)]

    /// Row-major operands of op(A) (m × k) and op(B) (k × n), stored transposed when asked, with their strides.
    static func operands(_ c: Case, transA: Bool, transB: Bool) -> (a: [Float], lda: Int, b: [Float], ldb: Int) {
        var s: UInt32 = 12345
        func next() -> Float { s = s &* 1_664_525 &+ 1_013_904_223; return Float(s >> 8) / Float(1 << 24) - 0.5 }
        let a = (0..<(c.m * c.k)).map { _ in next() }, b = (0..<(c.k * c.n)).map { _ in next() }
        return (a, transA ? c.m : c.k, b, transB ? c.k : c.n)
    }

    @Test(arguments: shapes, [(false, false), (true, false), (false, true), (true, true)])
    func matchesDoublePrecision(shape c: Case, trans: (Bool, Bool)) throws {
        let (transA, transB) = trans
        let (a, lda, b, ldb) = Self.operands(c, transA: transA, transB: transB)
        func av(_ i: Int, _ p: Int) -> Double { Double(transA ? a[p * lda + i] : a[i * lda + p]) }
        func bv(_ p: Int, _ j: Int) -> Double { Double(transB ? b[j * ldb + p] : b[p * ldb + j]) }
        let initial = (0..<(c.m * c.n)).map { Float($0 % 7) - 3 }
        // beta = 0 must not read C (NaN there would show), beta ≠ 0 must scale it; parts 2 splits C.
        for (alpha, beta, parts) in [(Float(1), Float(0), 1), (0.5, 1, 2), (-2, 0.25, 2), (1, 0, 3)] {
            var out = beta == 0 ? [Float](repeating: .nan, count: c.m * c.n) : initial
            let ran = a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    out.withUnsafeMutableBufferPointer { op in
                        blockedSgemm(transA: transA, transB: transB, m: c.m, n: c.n, k: c.k, alpha: alpha,
                                     a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb, beta: beta,
                                     c: op.baseAddress!, ldc: c.n, parts: parts)
                    }
                }
            }
            guard BlockedGEMM.enabled else {
                // Without AVX2 (or with GANKIT_GEMM=openblas) the caller must fall back to BLAS: nothing is written.
                #expect(!ran)
                return
            }
            #expect(ran)
            var worst = 0.0
            for i in 0..<c.m {
                for j in 0..<c.n {
                    var sum = 0.0, mag = 0.0
                    for p in 0..<c.k { sum += av(i, p) * bv(p, j); mag += abs(av(i, p) * bv(p, j)) }
                    let want = Double(alpha) * sum + Double(beta) * Double(initial[i * c.n + j])
                    let scale = abs(Double(alpha)) * mag + abs(Double(beta * initial[i * c.n + j])) + 1e-30
                    worst = max(worst, abs(Double(out[i * c.n + j]) - want) / scale)
                }
            }
            // Float32 sums of k products: error grows like k · 2⁻²⁴ relative to Σ|aᵢbᵢ| at worst.
            #expect(worst < Double(c.k + 2) * 6e-8, "alpha \(alpha) beta \(beta) parts \(parts): \(worst)")
        }
    }

    /// Large products cut by columns pack A once per depth slab for all pieces (`sharedSlabSgemm`): with alpha,
    /// beta, a bias per row or per column, B transposed or not, and a last slab shallower than the others, the
    /// result is the same to the bit as one piece packing everything itself.
    @Test(arguments: [false, true])
    func sharedSlabsMatchOnePiece(transB: Bool) throws {
        guard BlockedGEMM.enabled else { return }
        let c = Case(m: 100, n: 650, k: 600)
        let (a, lda, b, ldb) = Self.operands(c, transA: false, transB: transB)
        let rowBias = (0..<c.m).map { Float($0) / 7 - 3 }, colBias = (0..<c.n).map { Float($0 % 11) / 3 - 1 }
        for which in 0..<3 {
            var results: [[UInt32]] = []
            for parts in [1, 2, 3] {
                var out = (0..<(c.m * c.n)).map { Float($0 % 13) - 6 }   // beta = 0.5 reads it
                rowBias.withUnsafeBufferPointer { rb in
                    colBias.withUnsafeBufferPointer { cb in
                        let bias: GEMMBias = which == 0 ? .none : which == 1 ? .perRow(rb.baseAddress!)
                            : .perColumn(cb.baseAddress!)
                        if parts == 1 {
                            _ = blockedSgemm(transA: false, transB: transB, m: c.m, n: c.n, k: c.k, alpha: 0.75, a: a,
                                             lda: lda, b: b, ldb: ldb, beta: 0.5, c: &out, ldc: c.n, bias: bias,
                                             parts: 1)
                        } else {
                            let pieces = gemmPieces(m: c.m, n: c.n, parts: parts).map(\.columns)
                            #expect(pieces.count == parts)
                            sharedSlabSgemm(pieces: pieces, transB: transB, m: c.m, n: c.n, k: c.k, alpha: 0.75, a: a,
                                            lda: lda, b: b, ldb: ldb, beta: 0.5, c: &out, ldc: c.n, bias: bias)
                        }
                    }
                }
                results.append(out.map(\.bitPattern))
            }
            #expect(results[0] == results[1] && results[0] == results[2], "bias \(which), transB \(transB)")
        }
    }

    /// Splitting C between threads changes nothing: every element sums its products in the same order.
    @Test func splitIsBitIdentical() throws {
        for (c, transB) in [(Case(m: 100, n: 700, k: 600), false), (Case(m: 700, n: 100, k: 300), true),
                            (Case(m: 100, n: 705, k: 300), false)] {
            let (a, lda, b, ldb) = Self.operands(c, transA: false, transB: transB)
            var results: [[Float]] = []
            for parts in [1, 2, 5] {
                var out = [Float](repeating: 0, count: c.m * c.n)
                let ran = blockedSgemm(transA: false, transB: transB, m: c.m, n: c.n, k: c.k, alpha: 1, a: a,
                                       lda: lda, b: b, ldb: ldb, beta: 0, c: &out, ldc: c.n, parts: parts)
                #expect(ran == BlockedGEMM.enabled)
                if !ran { return }
                results.append(out)
            }
            #expect(results[0] == results[1] && results[0] == results[2])
        }
    }

    /// A bias fused into the first write of C rounds exactly as filling C with it and multiplying with beta = 1
    /// (the path it replaces), per row and per column, over edge tiles, slab remainders and split pieces; and
    /// `parallelSgemm` gives the same with or without the blocked GEMM.
    @Test(arguments: [Case(m: 25, n: 70, k: 300), Case(m: 37, n: 545, k: 530), Case(m: 130, n: 40, k: 19)])
    func fusedBiasMatchesPrefilledC(shape c: Case) throws {
        let (a, lda, b, ldb) = Self.operands(c, transA: false, transB: true)
        let rowBias = (0..<c.m).map { Float($0 % 11) * 0.37 - 2 }, colBias = (0..<c.n).map { Float($0 % 13) * 0.29 - 1.5 }
        for perRow in [true, false] {
            let prefilled = (0..<(c.m * c.n)).map { perRow ? rowBias[$0 / c.n] : colBias[$0 % c.n] }
            var reference = prefilled
            let ranPlain = blockedSgemm(transA: false, transB: true, m: c.m, n: c.n, k: c.k, alpha: 1, a: a, lda: lda,
                                        b: b, ldb: ldb, beta: 1, c: &reference, ldc: c.n, parts: 1)
            if !ranPlain {
                reference = prefilled
                blasSgemm(transA: false, transB: true, m: c.m, n: c.n, k: c.k, alpha: 1, a: a, lda: lda, b: b,
                          ldb: ldb, beta: 1, c: &reference, ldc: c.n)
            }
            for parts in [1, 2, 3] {
                var out = [Float](repeating: .nan, count: c.m * c.n)
                rowBias.withUnsafeBufferPointer { rb in
                    colBias.withUnsafeBufferPointer { cb in
                        let bias: GEMMBias = perRow ? .perRow(rb.baseAddress!) : .perColumn(cb.baseAddress!)
                        if parts == 1 {
                            // One piece through the public entry (blocked GEMM, or BLAS plus a bias pass).
                            parallelSgemm(transB: true, m: c.m, n: c.n, k: c.k, a: a, lda: lda, b: b, ldb: ldb,
                                          c: &out, ldc: c.n, bias: bias)
                        } else if !blockedSgemm(transA: false, transB: true, m: c.m, n: c.n, k: c.k, alpha: 1, a: a,
                                                lda: lda, b: b, ldb: ldb, beta: 0, c: &out, ldc: c.n, bias: bias,
                                                parts: parts) {
                            out = reference
                        }
                    }
                }
                if ranPlain || parts > 1 {
                    let differing = zip(out, reference).filter { $0 != $1 }.count
                    #expect(differing == 0, "per \(perRow ? "row" : "column"), \(parts) pieces")
                } else {
                    // BLAS then a bias pass rounds differently from BLAS on a prefilled C: compare closely.
                    let worst = zip(out, reference).map { abs($0 - $1) }.max() ?? 0
                    #expect(worst < 1e-4, "per \(perRow ? "row" : "column"): \(worst)")
                }
            }
        }
    }

    /// `ek_panel_pack` writes exactly its documented layout, zeros past n included, for row-major and
    /// transposed sources and widths that end inside either half of a panel.
    @Test(arguments: [(5, 37), (3, 20), (17, 64), (2, 1)])
    func panelPackLayout(k: Int, n: Int) {
        let src = (0..<(k * n)).map { Float($0 + 1) }
        let panels = (n + 31) / 32
        for transposed in [false, true] {
            // Row-major b(p, j) = src[p·n + j]; transposed storage holds b(p, j) at src'[j·k + p].
            let stored = transposed ? (0..<(k * n)).map { src[($0 % k) * n + $0 / k] } : src
            var packed = [Float](repeating: .nan, count: panels * 32 * k)
            stored.withUnsafeBufferPointer { sp in
                packed.withUnsafeMutableBufferPointer { dp in
                    ek_panel_pack(dp.baseAddress!, sp.baseAddress!, transposed ? k : n, k, n, transposed ? 1 : 0)
                }
            }
            var wrong = 0
            for q in 0..<panels { for p in 0..<k { for c in 0..<32 {
                let j = q * 32 + c
                let want: Float = j < n ? src[p * n + j] : 0
                if packed[(q * k + p) * 32 + c] != want { wrong += 1 }
            } } }
            #expect(wrong == 0, "k \(k) n \(n) transposed \(transposed)")
        }
    }
}
