import TensorStore

/// Layout helpers used once, at bind time, to bring stored weights into the engine's layouts.
extension Tensor {
    /// A zero-copy view with the axes reordered (`axes[i]` is the source axis of result axis i).
    public func permuted(_ axes: [Int]) throws -> Tensor {
        guard axes.count == rank, Set(axes) == Set(0..<rank) else {
            throw ModelError("permutation \(axes) does not fit a tensor of shape \(shape)")
        }
        return try Tensor(storage: storage, dtype: dtype, shape: axes.map { shape[$0] },
                          strides: axes.map { strides[$0] }, offset: offset, byteOrder: byteOrder)
    }

    /// A contiguous float32 copy with the last two (spatial) axes reversed.
    public func flippedSpatially() throws -> Tensor {
        guard rank >= 2 else { throw ModelError("cannot flip the spatial axes of a tensor of shape \(shape)") }
        let src = floats()
        let h = shape[rank - 2], w = shape[rank - 1]
        let plane = h * w
        var out = [Float](repeating: 0, count: src.count)
        if plane > 0 {
            for p in 0..<(src.count / plane) {
                let base = p * plane
                for y in 0..<h {
                    for x in 0..<w { out[base + y * w + x] = src[base + (h - 1 - y) * w + (w - 1 - x)] }
                }
            }
        }
        return Tensor(shape: shape, floats: out)
    }
}
