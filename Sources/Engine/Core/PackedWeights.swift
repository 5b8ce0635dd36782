import CEngineKernels
import Synchronization
import TensorStore
#if canImport(Glibc)
import Glibc
#endif

/// A weight matrix packed for the blocked GEMM (`ek_gemm_pack_a`): `groups` matrices of `rows` × `depth` (one per
/// conv group), each `groupFloats` apart. Freed when the last user lets go.
final class PackedMatrix: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    let rows: Int, depth: Int, groups: Int
    /// Rows of each group's packed form (`rows` rounded up to the tile's rows).
    let packedRows: Int
    let groupFloats: Int
    var byteCount: Int { groupFloats * groups * MemoryLayout<Float>.stride }

    /// Packs `weight` (`groups · rows` rows of `depth` floats, row-major) on all cores.
    init(weight: UnsafePointer<Float>, rows: Int, depth: Int, groups: Int) {
        self.rows = rows
        self.depth = depth
        self.groups = groups
        self.packedRows = ek_gemm_packed_rows(rows)
        self.groupFloats = (ek_gemm_packed_floats(rows, depth) + 15) / 16 * 16
        base = Scratch.allocate(groupFloats * groups)
        let tile = GEMMTile.rows, panels = (rows + tile - 1) / tile
        let base = self.base, groupFloats = self.groupFloats
        Parallel.forRanges(groups * panels, minChunk: max(1, 65536 / max(depth * tile, 1))) { r in
            var t = r.lowerBound
            while t < r.upperBound {
                // Micro-panels of one group at a time: [t, end) within group g.
                let g = t / panels, end = min(r.upperBound, (g + 1) * panels)
                ek_gemm_pack_a(weight + g * rows * depth, depth, rows, depth, (t - g * panels) * tile,
                               (end - g * panels) * tile, base + g * groupFloats)
                t = end
            }
        }
    }

    /// Group `g`'s packed matrix.
    func group(_ g: Int) -> UnsafePointer<Float> { UnsafePointer(base + g * groupFloats) }

    deinit { free(base) }
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
        let byteOffset: Int, rows: Int, depth: Int, groups: Int
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

    /// The packed form of `tensor`'s elements read as `groups` matrices of `rows` × `depth` floats at `base`,
    /// from the cache or packed now; nil when `tensor`'s storage is not frozen, the blocked GEMM does not run, or
    /// the packed form would not fit the budget (the caller then packs per call, as before).
    func matrix(for tensor: Tensor, base: UnsafePointer<Float>, rows: Int, depth: Int, groups: Int) -> PackedMatrix? {
        guard BlockedGEMM.enabled, tensor.storage.isFrozen, rows > 0, depth > 0, groups > 0 else { return nil }
        let owner = tensor.storage
        let key = Key(storage: ObjectIdentifier(owner), byteOffset: tensor.offset * tensor.dtype.size, rows: rows,
                      depth: depth, groups: groups)
        let found: PackedMatrix? = state.withLock { s in
            guard let e = s.entries[key], e.owner === owner else { return nil }
            s.clock += 1
            e.lastUse = s.clock
            return e.matrix
        }
        if let found { return found }
        let floats = (ek_gemm_packed_floats(rows, depth) + 15) / 16 * 16 * groups
        guard floats * MemoryLayout<Float>.stride <= budgetBytes else { return nil }
        // Packed outside the lock (on all cores); a racing caller's copy wins if it got in first.
        let matrix = PackedMatrix(weight: base, rows: rows, depth: depth, groups: groups)
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
