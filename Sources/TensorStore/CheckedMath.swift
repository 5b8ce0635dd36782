/// Overflow-safe arithmetic for sizes and extents read from untrusted files.
public enum CheckedMath {
    /// a × b, or nil on overflow or a negative operand.
    @inlinable
    public static func multiply(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : r
    }

    /// a + b, or nil on overflow or a negative operand.
    @inlinable
    public static func add(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (r, o) = a.addingReportingOverflow(b)
        return o ? nil : r
    }

    /// The product of all dimensions, or nil when any is negative or the product overflows.
    @inlinable
    public static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard let m = multiply(n, d) else { return nil }
            n = m
        }
        return n
    }

    /// Converts an unsigned value from a file into `Int`, or nil if it does not fit.
    @inlinable
    public static func int<T: BinaryInteger>(_ v: T) -> Int? { Int(exactly: v) }
}
