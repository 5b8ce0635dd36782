import CEngineKernels
import Synchronization
import TensorStore
#if canImport(Glibc)
import Glibc
#endif

/// A weight matrix packed for the blocked GEMM, as the operand it is in the product: A (`ek_gemm_pack_a`:
/// `groups` matrices of `rows` × `depth`, one per conv group, each `groupFloats` apart) or B (`ek_gemm_pack_b`:
/// one `depth` × `columns` matrix, here always a transposed weight, `[columns, depth]` row-major, as a linear
/// layer's). Freed when the last user lets go.
@usableFromInline
final class PackedMatrix: @unchecked Sendable {
    enum Operand: Hashable { case a, transposedB }

    let operand: Operand
    let base: UnsafeMutablePointer<Float>
    /// Rows (A) or columns (B) of each group, and its depth.
    let lines: Int, depth: Int, groups: Int
    /// `lines` rounded up to the tile's rows (A) or columns (B): what the packed form holds.
    let packedLines: Int
    let groupFloats: Int
    var byteCount: Int { groupFloats * groups * MemoryLayout<Float>.stride }

    /// Packs `weight` (`groups · rows` rows of `depth` floats, row-major) as A, on all cores.
    convenience init(weight: UnsafePointer<Float>, rows: Int, depth: Int, groups: Int) {
        self.init(.a, weight: weight, lines: rows, depth: depth, groups: groups)
    }

    /// Packs `weight` (`columns` rows of `depth` floats, row-major) as the transposed B of a product
    /// (`B(p, j) = weight[j·depth + p]`), on all cores.
    convenience init(transposedB weight: UnsafePointer<Float>, columns: Int, depth: Int) {
        self.init(.transposedB, weight: weight, lines: columns, depth: depth, groups: 1)
    }

    private init(_ operand: Operand, weight: UnsafePointer<Float>, lines: Int, depth: Int, groups: Int) {
        self.operand = operand
        self.lines = lines
        self.depth = depth
        self.groups = groups
        let isA = operand == .a
        self.packedLines = isA ? ek_gemm_packed_rows(lines) : ek_gemm_packed_columns(lines)
        self.groupFloats = Self.groupFloats(operand, lines: lines, depth: depth)
        base = Scratch.allocate(groupFloats * groups)
        let tile = isA ? GEMMTile.rows : GEMMTile.columns, panels = (lines + tile - 1) / tile
        let base = self.base, groupFloats = self.groupFloats
        Parallel.forRanges(groups * panels, minChunk: max(1, 65536 / max(depth * tile, 1))) { r in
            var t = r.lowerBound
            while t < r.upperBound {
                // Panels of one group at a time: [t, end) within group g.
                let g = t / panels, end = min(r.upperBound, (g + 1) * panels)
                let l0 = (t - g * panels) * tile, l1 = (end - g * panels) * tile
                if isA {
                    ek_gemm_pack_a(weight + g * lines * depth, depth, lines, depth, l0, l1, base + g * groupFloats)
                } else {
                    ek_gemm_pack_b(weight, depth, 1, depth, lines, l0, l1, base)
                }
                t = end
            }
        }
    }

    /// Group `g`'s packed matrix.
    func group(_ g: Int) -> UnsafePointer<Float> { UnsafePointer(base + g * groupFloats) }

    /// Floats of one group's packed form, rounded to a cache line so the next group starts on one.
    static func groupFloats(_ operand: Operand, lines: Int, depth: Int) -> Int {
        let floats = operand == .a ? ek_gemm_packed_floats(lines, depth) : ek_gemm_packed_b_floats(depth, lines)
        return (floats + 15) / 16 * 16
    }

    deinit { free(base) }
}

/// One group of a packed matrix, as a GEMM operand (`blockedSgemm`).
@usableFromInline
struct PackedOperand {
    let matrix: PackedMatrix
    let group: Int

    init(_ matrix: PackedMatrix, group: Int = 0) {
        self.matrix = matrix
        self.group = group
    }

    var base: UnsafePointer<Float> { matrix.group(group) }
}

/// Weights packed for the blocked GEMM, kept from call to call for frozen tensors (`Storage.isFrozen`: bound
/// model parameters, mapped files), whose bytes cannot change while the storage lives. Packing a conv's weight
/// again on every call cost up to 7% of a small-plane conv (0.12 of 1.8 ms for a 4×4 conv with 256 outputs on a
/// 17×17 plane, per core).
///
/// Entries are keyed by the storage's identity and the weight's place in it, and hold the storage weakly: when
/// it goes away the entry no longer matches (an address reused by a new storage is not mistaken for it) and is
/// dropped at the next insertion. The packed copies take at most `budgetBytes` (least recently used go first):
/// `GANKIT_PACKED_WEIGHTS_MB`, 1024 by default, 0 to turn the cache off.
final class PackedWeights: @unchecked Sendable {
    struct Key: Hashable {
        let storage: ObjectIdentifier
        let byteOffset: Int, lines: Int, depth: Int, groups: Int
        let operand: PackedMatrix.Operand
    }

    private final class Entry {
        weak var owner: Storage?
        let matrix: PackedMatrix
        var lastUse: UInt64
        init(owner: Storage, matrix: PackedMatrix, lastUse: UInt64) {
            self.owner = owner
            self.matrix = matrix
            self.lastUse = lastUse
        }
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var bytes = 0
        var clock: UInt64 = 0
    }

    let budgetBytes: Int
    private let state = Mutex(State())

    init(budgetBytes: Int) { self.budgetBytes = budgetBytes }

    static let shared: PackedWeights = {
        var megabytes = 1024
        if let v = getenv("GANKIT_PACKED_WEIGHTS_MB"), let n = Int(String(cString: v)), n >= 0 { megabytes = n }
        return PackedWeights(budgetBytes: megabytes << 20)
    }()

    /// Bytes the packed copies take now.
    var bytes: Int { state.withLock { $0.bytes } }

    /// Entries held now.
    var count: Int { state.withLock { $0.entries.count } }

    /// Drops every packed copy.
    func removeAll() { state.withLock { $0 = State() } }

    /// The packed form of `tensor` (contiguous f32, as an op's `Input` holds it) read as `groups` matrices of
    /// `rows` × `depth` floats, from the cache or packed now; nil when `tensor`'s storage is not frozen (a weight
    /// that had to be converted is a new, unfrozen storage), the blocked GEMM does not run, or the packed form
    /// would not fit the budget (the caller then packs per call).
    func matrix(for tensor: Tensor, rows: Int, depth: Int, groups: Int) -> PackedMatrix? {
        packed(.a, for: tensor, lines: rows, depth: depth, groups: groups) {
            PackedMatrix(weight: tensor.readBase, rows: rows, depth: depth, groups: groups)
        }
    }

    /// The packed form of `tensor` (`columns` rows of `depth` floats) as the transposed B of a product (a linear
    /// layer's weight), as `matrix(for:…)` gives A.
    func transposedB(for tensor: Tensor, columns: Int, depth: Int) -> PackedMatrix? {
        packed(.transposedB, for: tensor, lines: columns, depth: depth, groups: 1) {
            PackedMatrix(transposedB: tensor.readBase, columns: columns, depth: depth)
        }
    }

    private func packed(_ operand: PackedMatrix.Operand, for tensor: Tensor, lines: Int, depth: Int, groups: Int,
                        make: () -> PackedMatrix) -> PackedMatrix? {
        guard BlockedGEMM.enabled, tensor.storage.isFrozen, lines > 0, depth > 0, groups > 0 else { return nil }
        let owner = tensor.storage
        let key = Key(storage: ObjectIdentifier(owner), byteOffset: tensor.offset * tensor.dtype.size, lines: lines,
                      depth: depth, groups: groups, operand: operand)
        let found: PackedMatrix? = state.withLock { s in
            guard let e = s.entries[key], e.owner === owner else { return nil }
            s.clock += 1
            e.lastUse = s.clock
            return e.matrix
        }
        if let found { return found }
        let floats = PackedMatrix.groupFloats(operand, lines: lines, depth: depth) * groups
        guard floats * MemoryLayout<Float>.stride <= budgetBytes else { return nil }
        // Packed outside the lock (on all cores); a racing caller's copy wins if it got in first.
        let matrix = make()
        return state.withLock { s in
            if let e = s.entries[key], e.owner === owner { return e.matrix }
            if let stale = s.entries.removeValue(forKey: key) { s.bytes -= stale.matrix.byteCount }
            // Entries whose storage went away first, then the least recently used, until the new one fits.
            for (k, e) in s.entries where e.owner == nil {
                s.bytes -= e.matrix.byteCount
                s.entries[k] = nil
            }
            while s.bytes + matrix.byteCount > budgetBytes,
                  let oldest = s.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                s.bytes -= oldest.value.matrix.byteCount
                s.entries[oldest.key] = nil
            }
            s.clock += 1
            s.entries[key] = Entry(owner: owner, matrix: matrix, lastUse: s.clock)
            s.bytes += matrix.byteCount
            return matrix
        }
    }
}
