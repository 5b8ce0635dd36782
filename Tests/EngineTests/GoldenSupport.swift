import Foundation
import Testing
import TensorStore
@testable import Engine

/// One op golden from Fixtures/ops (made by Scripts/make_op_goldens.py with PyTorch on the CPU).
struct Golden {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Fixtures/ops").path
    }()

    let name: String
    let store: TensorStore

    init(_ name: String) throws {
        self.name = name
        store = try NumPy.readNPZ(path: Golden.root + "/" + name + ".npz")
    }

    subscript(_ key: String) -> Tensor {
        get throws {
            guard let t = store[key] else { throw StoreError(.notFound, "golden \(name) has no '\(key)'") }
            return t
        }
    }

    func has(_ key: String) -> Bool { store[key] != nil }

    /// A parameter stored as `p.<name>` (float64 array).
    func ints(_ key: String) throws -> [Int] { try self["p." + key].floats().map { Int($0) } }
    func float(_ key: String) throws -> Float { try self["p." + key].floats()[0] }
}

/// Single-op tolerance: the largest error relative to the largest reference magnitude (L∞ / L∞).
///
/// Why 1e-5: every op here is one float32 computation whose summation order differs from PyTorch's (MKL-DNN
/// vs OpenBLAS blocking, separable vs 2-D FIR sums, double vs float accumulators). Rounding of an n-term float
/// sum is bounded by about √n·2⁻²⁴ of the terms' magnitude; for the largest reductions in these goldens
/// (n ≤ 600) that is ≤ 2e-6 of the output scale, so 1e-5 leaves margin while still catching any wrong tap,
/// offset or constant (those give errors ≥ 1e-3).
let singleOpTolerance: Float = 1e-5

/// The relative error of `actual` against `expected`, or +∞ when shapes differ.
func relativeError(_ actual: Tensor, _ expected: Tensor) -> Float {
    guard actual.shape == expected.shape else { return .infinity }
    let a = actual.floats(), e = expected.floats()
    var maxDiff: Float = 0, maxRef: Float = 0
    for i in a.indices {
        let d = abs(a[i] - e[i])
        if d.isNaN { return .infinity }
        maxDiff = max(maxDiff, d)
        maxRef = max(maxRef, abs(e[i]))
    }
    return maxDiff / max(maxRef, 1e-30)
}

func expectClose(_ actual: Tensor, _ expected: Tensor, tolerance: Float = singleOpTolerance, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.shape == expected.shape, "\(what): shape \(actual.shape) vs expected \(expected.shape)", sourceLocation: sourceLocation)
    let err = relativeError(actual, expected)
    #expect(err <= tolerance, "\(what): relative error \(err) > \(tolerance)", sourceLocation: sourceLocation)
}

extension Padding2D {
    /// From the goldens' `[top, bottom, left, right]` arrays.
    init(tblr p: [Int]) { self.init(top: p[0], bottom: p[1], left: p[2], right: p[3]) }
    /// From StyleGAN's `[x0, x1, y0, y1]`.
    init(xxyy p: [Int]) { self.init(x0: p[0], x1: p[1], y0: p[2], y1: p[3]) }
}
