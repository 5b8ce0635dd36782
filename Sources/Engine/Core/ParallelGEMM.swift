import CCBLAS
import CEngineKernels
#if canImport(Glibc)
import Glibc
#endif

/// How the engine threads OpenBLAS GEMMs (on AVX-512 CPUs `parallelSgemm` and `threadedSgemm` run the engine's
/// own `blockedSgemm` instead, which does not depend on OpenBLAS' thread count).
///
/// Small and medium GEMMs run on one OpenBLAS thread each, several at once on `Parallel` workers (each with its
/// own cache-hot im2col tile). A single large GEMM instead runs on OpenBLAS' own threads: they share one packed
/// copy of each operand block, which splitting the product into independent calls cannot do (measured on
/// sgemm 2048²: about 15% faster than two half-size calls).
enum BLASThreading {
    /// Evaluated once, before the first GEMM or op output.
    static let pinned: Bool = {
        openblas_set_num_threads(1)
        EngineMemory.configure()
        return true
    }()

    /// OpenBLAS' thread count is process-wide. A threaded call holds this gate exclusively while the count is
    /// raised; every single-threaded call holds it shared. So a GEMM on another thread (another model running
    /// concurrently, or parallel tests) never picks up the raised count: its thread count, and with it its
    /// kernels and rounding, depend only on its own shape.
    static let gate = ReadWriteGate()

    /// Multiply-adds from which one GEMM is worth OpenBLAS' threads (a 256×256×512 product and up).
    static let wideWork: Double = 32_000_000
}

/// A GEMM large enough for `threadedSgemm`.
@usableFromInline
func isWideGEMM(m: Int, n: Int, k: Int) -> Bool {
    Parallel.coreCount > 1 && Double(m) * Double(n) * Double(k) >= BLASThreading.wideWork && m >= 32 && n >= 32
}

/// Row-major SGEMM on all cores for one large product: the blocked GEMM, else OpenBLAS' own threading.
@usableFromInline
func threadedSgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                   a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                   beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, bias: GEMMBias = .none) {
    _ = BLASThreading.pinned
    if blockedSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                    beta: beta, c: c, ldc: ldc, bias: bias, parts: Parallel.coreCount) {
        return
    }
    openBLASThreadedSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
                          ldb: ldb, beta: beta, c: c, ldc: ldc)
    bias.add(to: c, m: m, n: n, ldc: ldc)
}

/// A bias the blocked GEMM adds as it first writes C (saving the pass that fills C with it): one value per row
/// (a convolution's output channels) or per column (a linear layer's output features). Other GEMMs add it after.
@usableFromInline
enum GEMMBias {
    case none
    case perRow(UnsafePointer<Float>)
    case perColumn(UnsafePointer<Float>)

    var rows: UnsafePointer<Float>? { if case .perRow(let p) = self { return p }; return nil }
    var columns: UnsafePointer<Float>? { if case .perColumn(let p) = self { return p }; return nil }

    /// The bias of rows i0… and columns j0… (a piece of C).
    func offset(rows i0: Int, columns j0: Int) -> GEMMBias {
        switch self {
        case .none: return .none
        case .perRow(let p): return .perRow(p + i0)
        case .perColumn(let p): return .perColumn(p + j0)
        }
    }

    /// C += bias, for GEMMs that did not add it.
    func add(to c: UnsafeMutablePointer<Float>, m: Int, n: Int, ldc: Int) {
        switch self {
        case .none: return
        case .perRow(let p):
            for i in 0..<m { ek_add_scalar(c + i * ldc, c + i * ldc, p[i], n) }
        case .perColumn(let p):
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] += p[j] } }
        }
    }
}

/// One product on OpenBLAS' own threads, its thread count raised around the call under the exclusive gate.
func openBLASThreadedSgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
                           lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>,
                           ldc: Int) {
    if m == 0 || n == 0 || k == 0 {
        blasSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                  beta: beta, c: c, ldc: ldc)
        return
    }
    BLASThreading.gate.withExclusive {
        openblas_set_num_threads(Int32(Parallel.coreCount))
        rawSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                 beta: beta, c: c, ldc: ldc)
        openblas_set_num_threads(1)
    }
}

/// Row-major SGEMM on all cores: the blocked GEMM cut into one piece per core (one piece for small products);
/// without it, large products on OpenBLAS' threads, mid-size ones split by output rows or columns (whichever is
/// longer) into single-threaded calls, small ones inline.
@usableFromInline
func parallelSgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                   a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                   beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, bias: GEMMBias = .none,
                   packedA: PackedOperand? = nil, packedB: PackedOperand? = nil) {
    _ = BLASThreading.pinned
    let cores = Parallel.coreCount
    let work = Double(m) * Double(n) * Double(k)
    let oneThread = cores == 1 || work < 2_000_000 || (m < 32 && n < 32)
    if blockedSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                    beta: beta, c: c, ldc: ldc, bias: bias, parts: oneThread ? 1 : cores, packedA: packedA,
                    packedB: packedB) {
        return
    }
    defer { bias.add(to: c, m: m, n: n, ldc: ldc) }
    if isWideGEMM(m: m, n: n, k: k) {
        openBLASThreadedSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
                              ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    if oneThread {
        blasSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c, ldc: ldc)
        return
    }
    // Align pieces to 16 so the AVX-512 micro-kernels stay full.
    if n >= m {
        let piece = ((n + cores - 1) / cores + 15) / 16 * 16
        let parts = (n + piece - 1) / piece
        Parallel.forEach(parts) { p in
            let j0 = p * piece, j1 = min(n, j0 + piece)
            if j0 >= j1 { return }
            blasSgemm(transA: transA, transB: transB, m: m, n: j1 - j0, k: k, alpha: alpha, a: a, lda: lda,
                  b: transB ? b + j0 * ldb : b + j0, ldb: ldb, beta: beta, c: c + j0, ldc: ldc)
        }
    } else {
        let piece = ((m + cores - 1) / cores + 15) / 16 * 16
        let parts = (m + piece - 1) / piece
        Parallel.forEach(parts) { p in
            let i0 = p * piece, i1 = min(m, i0 + piece)
            if i0 >= i1 { return }
            blasSgemm(transA: transA, transB: transB, m: i1 - i0, n: n, k: k, alpha: alpha,
                  a: transA ? a + i0 : a + i0 * lda, lda: lda, b: b, ldb: ldb, beta: beta,
                  c: c + i0 * ldc, ldc: ldc)
        }
    }
}

/// The engine's own blocked GEMM (`ek_gemm`, AVX-512 or AVX2): C split into `parts` pieces along its longer side
/// (`gemmPieces`), one single-threaded call per piece. Each piece packs its own operand blocks, so every piece
/// packs all of the operand the cut does not divide, except in large products cut by columns, whose pieces share
/// each packed slab of A (`sharedSlabSgemm`; packing all of A once before the pieces start was measured no
/// faster: 1.51 against 1.47 ms for 512³). Returns false where the kernel does not run (no AVX2,
/// `GANKIT_GEMM=openblas`, or an empty product), leaving C to the caller.
///
/// `packedA` / `packedB`: that operand packed ahead (`PackedWeights`: a constant weight), which no piece packs
/// again; the cut then goes across the other operand (columns for a packed A, rows for a packed B), so each piece
/// packs only its share of it. Same sums, same bits.
@usableFromInline
func blockedSgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
                  lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                  bias: GEMMBias = .none, parts: Int, packedA: PackedOperand? = nil,
                  packedB: PackedOperand? = nil) -> Bool {
    guard BlockedGEMM.enabled, m > 0, n > 0, k > 0 else { return false }
    let packedA = packedA.flatMap {
        $0.matrix.operand == .a && $0.matrix.lines == m && $0.matrix.depth == k && !transA ? $0 : nil
    }
    let packedB = packedB.flatMap {
        $0.matrix.operand == .transposedB && $0.matrix.lines == n && $0.matrix.depth == k && transB ? $0 : nil
    }
    let cut: GEMMCut = packedB != nil ? .rows : packedA != nil ? .columns : .longerSide
    let pieces = gemmPieces(m: m, n: n, parts: parts, cut: cut)
    if packedA == nil && packedB == nil && !transA && pieces.count > 1 && pieces.allSatisfy({ $0.rows == 0..<m })
        && k > Int(ek_gemm_slab_depth()) && Double(m) * Double(n) * Double(k) >= BLASThreading.wideWork {
        sharedSlabSgemm(pieces: pieces.map(\.columns), transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                        b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias)
        return true
    }
    forEachGEMMPiece(pieces) { rows, cols in
        let pa = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
        let pb = transB ? b + cols.lowerBound * ldb : b + cols.lowerBound
        let pbias = bias.offset(rows: rows.lowerBound, columns: cols.lowerBound)
        let cp = c + rows.lowerBound * ldc + cols.lowerBound
        Scratch.withBuffer(ek_gemm_scratch_floats(rows.count, cols.count, k)) { scratch in
            if packedA != nil || packedB != nil,
               ek_gemm_prepacked(transA ? 1 : 0, transB ? 1 : 0, rows.count, cols.count, k, alpha, pa, lda,
                                 packedA?.base, packedA?.matrix.packedLines ?? 0, rows.lowerBound, pb, ldb,
                                 packedB?.base, packedB?.matrix.packedLines ?? 0, cols.lowerBound, beta, cp, ldc,
                                 pbias.rows, pbias.columns, scratch) != 0 {
                return
            }
            _ = ek_gemm(transA ? 1 : 0, transB ? 1 : 0, rows.count, cols.count, k, alpha, pa, lda, pb, ldb, beta,
                        cp, ldc, pbias.rows, pbias.columns, scratch)
        }
    }
    withExtendedLifetime((packedA, packedB)) {}
    return true
}

/// Which side of C `forEachGEMMPiece` cuts.
enum GEMMCut { case longerSide, rows, columns }

/// A large product cut by columns, with A packed once per depth slab for all pieces: each piece packs a share of
/// the slab's micro-panels, then every piece multiplies the whole packed slab by its columns of B (chained over
/// the slabs with beta = 1: the same sums, merged into C slab by slab as `ek_gemm` merges them, so the same bits).
/// Otherwise every piece packs all of A: for sgemm 2048³ on two cores, 16 MB per core and call, read from DRAM
/// (92.3 against 93.4 ms, median of four runs in a C harness).
func sharedSlabSgemm(pieces: [Range<Int>], transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
                     c: UnsafeMutablePointer<Float>, ldc: Int, bias: GEMMBias) {
    let depth = Int(ek_gemm_slab_depth()), rows = ek_gemm_packed_rows(m), tile = GEMMTile.rows
    let panels = rows / tile, count = pieces.count
    Scratch.withBuffer(ek_gemm_packed_floats(m, depth)) { slab in
        var pc = 0
        while pc < k {
            let kc = min(depth, k - pc), first = pc == 0
            Parallel.forEach(count) { p in
                ek_gemm_pack_a(a + pc, lda, m, kc, p * panels / count * tile,
                               p == count - 1 ? m : (p + 1) * panels / count * tile, slab)
            }
            Parallel.forEach(count) { p in
                let cols = pieces[p]
                let pb = transB ? b + cols.lowerBound * ldb + pc : b + pc * ldb + cols.lowerBound
                let pbias = first ? bias.offset(rows: 0, columns: cols.lowerBound) : .none
                Scratch.withBuffer(ek_gemm_scratch_floats(m, cols.count, kc)) { scratch in
                    _ = ek_gemm_prepacked(0, transB ? 1 : 0, m, cols.count, kc, alpha, a, lda, slab, rows, 0, pb, ldb,
                                          nil, 0, 0, first ? beta : 1, c + cols.lowerBound, ldc, pbias.rows,
                                          pbias.columns, scratch)
                }
            }
            pc += kc
        }
    }
}

/// Cuts an m × n product for the blocked GEMM into `parts` pieces along its longer side — at whole tiles
/// (`GEMMTile`: 32 or 16 columns when n ≥ m, else 12 or 6 rows), each cut at the tile boundary nearest an equal
/// share — and runs `body(rows, columns)` for each on the worker pool (on the caller for one part). Each
/// element's sum runs in the same order however C is cut.
func forEachGEMMPiece(m: Int, n: Int, parts: Int, _ body: (Range<Int>, Range<Int>) -> Void) {
    forEachGEMMPiece(gemmPieces(m: m, n: n, parts: parts), body)
}

/// Runs `body(rows, columns)` for each piece on the worker pool (on the caller for one).
func forEachGEMMPiece(_ pieces: [(rows: Range<Int>, columns: Range<Int>)], _ body: (Range<Int>, Range<Int>) -> Void) {
    if pieces.count == 1 { return body(pieces[0].rows, pieces[0].columns) }
    Parallel.forEach(pieces.count) { p in body(pieces[p].rows, pieces[p].columns) }
}

/// The pieces `forEachGEMMPiece` cuts (none empty); `cut`: a side to cut instead of the longer one, where it has a
/// tile per part.
func gemmPieces(m: Int, n: Int, parts: Int, cut side: GEMMCut = .longerSide)
    -> [(rows: Range<Int>, columns: Range<Int>)] {
    var byColumns = n >= m
    if side == .rows && m >= parts * GEMMTile.rows { byColumns = false }
    if side == .columns && n >= parts * GEMMTile.columns { byColumns = true }
    let length = byColumns ? n : m, unit = byColumns ? GEMMTile.columns : GEMMTile.rows
    let tiles = (length + unit - 1) / unit
    let count = max(1, min(parts, tiles))
    if count == 1 { return [(0..<m, 0..<n)] }
    // Cut p at the tile nearest p/count of the length (a last partial tile counts by its share of columns).
    func cut(_ p: Int) -> Int {
        p == count ? length : min(length, (p * length + count * unit / 2) / (count * unit) * unit)
    }
    return (0..<count).map { cut($0)..<cut($0 + 1) }.filter { !$0.isEmpty }
        .map { byColumns ? (0..<m, $0) : ($0, 0..<n) }
}

/// The blocked GEMM's tile on this CPU (`ek_gemm_tile`).
enum GEMMTile {
    static let (rows, columns): (Int, Int) = {
        var r = 0, c = 0
        ek_gemm_tile(&r, &c)
        return (r, c)
    }()
}

/// Whether `blockedSgemm` runs: on AVX-512 and AVX2+FMA CPUs unless `GANKIT_GEMM=openblas` (for comparisons).
enum BlockedGEMM {
    static let enabled: Bool = {
        if let v = getenv("GANKIT_GEMM"), String(cString: v) == "openblas" { return false }
        return ek_kernel_level() >= 2
    }()
}

/// A pthread read-write lock: many shared holders or one exclusive holder.
final class ReadWriteGate: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_rwlock_t())
        pthread_rwlock_init(lock, nil)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    @inline(__always)
    func withShared<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    @inline(__always)
    func withExclusive<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}
