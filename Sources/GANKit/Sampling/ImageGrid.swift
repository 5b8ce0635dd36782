import Models
import TensorStore

/// 8-bit pixels of a grid of generated images, ready for a PNG.
public struct ImageGrid {
    public var width: Int
    public var height: Int
    /// 1 (gray) or 3 (RGB).
    public var channels: Int
    /// Row-major, interleaved.
    public var pixels: [UInt8]

    /// Tiles a batch `[N, C, H, W]` into a grid of `columns` (default: as square as possible), with `gap` pixels
    /// of black between images. Values map to bytes as the references do: `[-1,1]` outputs by
    /// `clamp(x·127.5 + 128, 0, 255)` truncated (NVlabs), `[0,1]` outputs by `clamp(x·255 + 0.5, 0, 255)`.
    public init(batch: Tensor, range: OutputRange, columns: Int? = nil, gap: Int = 2) throws {
        guard batch.rank == 4, batch.shape[0] > 0 else {
            throw ModelError("expected an image batch [N, C, H, W], found \(batch.shape)")
        }
        let n = batch.shape[0], c = batch.shape[1], h = batch.shape[2], w = batch.shape[3]
        let outC = c >= 3 ? 3 : 1
        var cols = columns ?? 1
        if columns == nil { while cols * cols < n { cols += 1 } }
        cols = max(1, min(cols, n))
        let rows = (n + cols - 1) / cols
        width = cols * w + (cols - 1) * gap
        height = rows * h + (rows - 1) * gap
        channels = outC
        pixels = [UInt8](repeating: 0, count: width * height * outC)
        let v = batch.floats()
        for i in 0..<n {
            let ox = (i % cols) * (w + gap), oy = (i / cols) * (h + gap)
            for ch in 0..<outC {
                let plane = (i * c + ch) * h * w
                for y in 0..<h {
                    for x in 0..<w {
                        let f = v[plane + y * w + x]
                        let scaled: Float = range == .minusOneToOne ? f * 127.5 + 128 : f * 255 + 0.5
                        let byte = UInt8(max(0, min(255, scaled.isNaN ? 0 : scaled)))
                        pixels[((oy + y) * width + ox + x) * outC + ch] = byte
                    }
                }
            }
        }
    }
}
