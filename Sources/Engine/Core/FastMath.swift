/// `eˣ` without a libm call, branch-free so loops over it vectorise (AVX-512 `vrndscaleps` + FMA).
///
/// Cephes-style: `x = n·ln2 + r` with `|r| ≤ ½ln2` (ln2 split in two constants for exactness), a degree-6
/// polynomial for `eʳ`, then `2ⁿ` assembled in the exponent bits. Relative error ≤ 2 ulp on [−87.3, 88.7];
/// inputs below −87.3 (including −∞) give ≈1.2e−38 instead of 0, which no softmax can tell apart.
@inlinable @inline(__always)
public func fastExp(_ v: Float) -> Float {
    let x = Swift.min(Swift.max(v, -87.3), 88.7)
    // Round to nearest with the 1.5·2²³ trick (SSE2 has no vector round instruction).
    let magic: Float = 12582912
    let n = (x * 1.442695041 + magic) - magic
    let r = (x - n * 0.693359375) + n * 2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * (r * r) + r + 1
    return y * Float(bitPattern: UInt32(bitPattern: (Int32(n) + 127) << 23))
}
