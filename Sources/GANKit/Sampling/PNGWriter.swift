import CPNG
import TensorStore

/// Writes 8-bit gray or RGB PNGs through libpng's simplified API (which does its own error recovery).
public enum PNGWriter {
    public static func write(_ grid: ImageGrid, to path: String) throws {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(grid.width)
        image.height = png_uint_32(grid.height)
        image.format = grid.channels == 3 ? cpng_format_rgb() : cpng_format_gray()
        let ok = grid.pixels.withUnsafeBytes { buf in
            png_image_write_to_file(&image, path, 0, buf.baseAddress, png_int_32(grid.width * grid.channels), nil)
        }
        if ok == 0 {
            let message = withUnsafeBytes(of: image.message) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            png_image_free(&image)
            throw StoreError(.io, "cannot write the PNG: \(message)", file: path)
        }
    }

    /// Reads back a PNG's size and channel count (for checks): (width, height, channels).
    public static func readInfo(path: String) throws -> (Int, Int, Int) {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_file(&image, path) != 0 else {
            throw StoreError(.corrupt, "not a readable PNG", file: path)
        }
        // PNG_FORMAT_FLAG_ALPHA = 1, PNG_FORMAT_FLAG_COLOR = 2.
        let channels = (image.format & 2 != 0 ? 3 : 1) + (image.format & 1 != 0 ? 1 : 0)
        let result = (Int(image.width), Int(image.height), channels)
        png_image_free(&image)
        return result
    }
}
