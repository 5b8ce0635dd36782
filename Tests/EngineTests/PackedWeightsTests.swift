import Testing
@testable import Engine
import TensorStore

/// Frozen weights keep their GEMM-packed form from call to call (`PackedWeights`): the results stay the same to
/// the bit, entries follow the storage they were made from, and the copies stay within their budget.
@Suite("Packed weights")
struct PackedWeightsTests {
    static func tensor(_ shape: [Int], seed: UInt32) -> Tensor {
        var s = seed
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, floats: (0..<n).map { _ in
            s = s &* 1_664_525 &+ 1_013_904_223
            return Float(s >> 8) / Float(1 << 24) - 0.5
        })
    }

    /// A copy of `t` in new, unfrozen storage.
    static func copy(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, floats: t.floats()) }

    @Test func freezingMakesStorageReadOnly() {
        let t = Tensor(zeros: [3, 4])
        #expect(!t.storage.isFrozen && t.storage.isWritable)
        t.frozen()
        #expect(t.storage.isFrozen && !t.storage.isWritable)
    }

    /// A 4×4 stride-2 conv (the implicit GEMM), 1 and 2 groups, with a bias: a frozen weight, first packed and
    /// then read from the cache, gives exactly what the same values in an unfrozen tensor give.
    @Test(arguments: [1, 2])
    func frozenWeightGivesTheSameBits(groups: Int) throws {
        // 40 channels: 640 rows of im2col per group at groups = 1, past a 512-deep slab.
        let x = Self.tensor([1, 40, 18, 18], seed: 3)
        let w = Self.tensor([32, 40 / groups, 4, 4], seed: 5), b = Self.tensor([32], seed: 7)
        let want = try Ops.conv2d(x, weight: Self.copy(w), bias: b, stride: 2, padding: 2, groups: groups).floats()
        let frozen = Self.copy(w).frozen()
        for call in 0..<3 {
            let got = try Ops.conv2d(x, weight: frozen, bias: b, stride: 2, padding: 2, groups: groups).floats()
            let mismatches = zip(got, want).filter { $0.0.bitPattern != $0.1.bitPattern }.count
            #expect(got.count == want.count && mismatches == 0, "call \(call): \(mismatches) outputs differ")
        }
    }

    /// Linear layers (the weight packed ahead as B, the product cut by rows) and 1×1 convs (as A, cut by
    /// columns): frozen weights give exactly what unfrozen copies give; sizes cross tile edges and a 512-deep slab.
    @Test(arguments: [(50, 37, 600), (130, 100, 64), (9, 700, 33)])
    func frozenLinearWeightGivesTheSameBits(shape: (rows: Int, out: Int, in: Int)) throws {
        let x = Self.tensor([shape.rows, shape.in], seed: 3)
        let w = Self.tensor([shape.out, shape.in], seed: 5), b = Self.tensor([shape.out], seed: 7)
        let want = try Ops.linear(x, weight: Self.copy(w), bias: b).floats()
        let frozen = Self.copy(w).frozen()
        for call in 0..<2 {
            let got = try Ops.linear(x, weight: frozen, bias: b).floats()
            let mismatches = zip(got, want).filter { $0.0.bitPattern != $0.1.bitPattern }.count
            #expect(got.count == want.count && mismatches == 0, "call \(call): \(mismatches) outputs differ")
        }
    }

    @Test(arguments: [1, 2])
    func frozenPointwiseConvWeightGivesTheSameBits(groups: Int) throws {
        let x = Self.tensor([2, 40, 23, 23], seed: 3)
        let w = Self.tensor([300, 40 / groups, 1, 1], seed: 5), b = Self.tensor([300], seed: 7)
        let want = try Ops.conv2d(x, weight: Self.copy(w), bias: b, groups: groups).floats()
        let got = try Ops.conv2d(x, weight: Self.copy(w).frozen(), bias: b, groups: groups).floats()
        let mismatches = zip(got, want).filter { $0.0.bitPattern != $0.1.bitPattern }.count
        #expect(got.count == want.count && mismatches == 0, "\(mismatches) outputs differ")
    }

    @Test func entriesFollowTheirStorage() throws {
        guard BlockedGEMM.enabled else { return }
        let cache = PackedWeights(budgetBytes: 64 << 20)
        func packed(_ t: Tensor) -> PackedMatrix? {
            cache.matrix(for: t, rows: 20, depth: 50, groups: 1)
        }
        #expect(packed(Self.tensor([20, 50], seed: 1)) == nil, "an unfrozen weight is not cached")
        var a: Tensor? = Self.tensor([20, 50], seed: 1).frozen()
        let first = try #require(packed(a!))
        #expect(packed(a!) === first, "the second call reads the cache")
        #expect(cache.count == 1)
        a = nil
        // Another storage (perhaps at the same address) never gets the first one's entry.
        let b = Self.tensor([20, 50], seed: 2).frozen()
        let second = try #require(packed(b))
        #expect(second !== first)
        #expect(cache.count == 1, "the entry of the freed storage is dropped")
        #expect(first.group(0)[0] != second.group(0)[0] || first.group(0)[6] != second.group(0)[6])
    }

    @Test func copiesStayWithinTheirBudget() throws {
        guard BlockedGEMM.enabled else { return }
        let one = PackedMatrix(weight: Self.tensor([24, 64], seed: 1).floats(), rows: 24, depth: 64, groups: 1)
        let cache = PackedWeights(budgetBytes: 2 * one.byteCount)
        let weights = (0..<3).map { Self.tensor([24, 64], seed: UInt32(10 + $0)).frozen() }
        func packed(_ i: Int) -> PackedMatrix? {
            cache.matrix(for: weights[i], rows: 24, depth: 64, groups: 1)
        }
        let p0 = try #require(packed(0)), p1 = try #require(packed(1))
        #expect(packed(0) === p0)              // 0 is now the most recently used
        _ = try #require(packed(2))            // evicts 1, the least recently used
        #expect(cache.count == 2 && cache.bytes <= cache.budgetBytes)
        #expect(packed(0) === p0, "the recently used entry stays")
        #expect(packed(1) !== p1, "the least recently used entry was evicted and is packed again")
        #expect(PackedWeights(budgetBytes: one.byteCount - 1).matrix(for: weights[0], rows: 24, depth: 64,
                                                                     groups: 1) == nil,
                "a matrix larger than the budget is not cached")
    }
}
