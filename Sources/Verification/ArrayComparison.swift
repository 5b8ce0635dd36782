import TensorStore

/// How far one computed array is from its golden counterpart (Formats/golden.md, "Parity").
public struct ArrayComparison: Sendable {
    public var name: String
    public var shape: [Int]
    public var maxAbsError: Double
    public var meanAbsError: Double
    /// `max|swift − golden| / max(1, max|golden|)`.
    public var relativeError: Double
    public var tolerance: Double
    /// Set when the arrays could not be compared (shape mismatch, missing output).
    public var problem: String?

    public var passed: Bool { problem == nil && relativeError <= tolerance }

    /// Compares `actual` with `expected` element by element (NaN anywhere counts as infinite error).
    public static func compare(name: String, actual: Tensor?, expected: Tensor, tolerance: Double) -> ArrayComparison {
        guard let actual else {
            return ArrayComparison(name: name, shape: expected.shape, maxAbsError: .infinity, meanAbsError: .infinity,
                                   relativeError: .infinity, tolerance: tolerance, problem: "the model produced no '\(name)'")
        }
        guard actual.elementCount == expected.elementCount, squeezed(actual.shape) == squeezed(expected.shape) else {
            return ArrayComparison(name: name, shape: expected.shape, maxAbsError: .infinity, meanAbsError: .infinity,
                                   relativeError: .infinity, tolerance: tolerance,
                                   problem: "shape \(actual.shape) differs from the golden's \(expected.shape)")
        }
        let a = actual.floats(), e = expected.floats()
        var maxAbs = 0.0, sum = 0.0, maxRef = 0.0
        var nan = false
        for i in 0..<a.count {
            let d = abs(Double(a[i]) - Double(e[i]))
            if d.isNaN { nan = true }
            maxAbs = max(maxAbs, d)
            sum += d
            maxRef = max(maxRef, abs(Double(e[i])))
        }
        if nan { maxAbs = .infinity }
        let mean = a.isEmpty ? 0 : sum / Double(a.count)
        return ArrayComparison(name: name, shape: expected.shape, maxAbsError: maxAbs, meanAbsError: nan ? .infinity : mean,
                               relativeError: maxAbs / max(1, maxRef), tolerance: tolerance, problem: nil)
    }

    /// Shapes equal up to size-1 axes ([N, 784] vs [N, 1, 28, 28] is not equal; [N,1,28,28] vs [N,28,28] is).
    static func squeezed(_ s: [Int]) -> [Int] { s.filter { $0 != 1 } }
}
