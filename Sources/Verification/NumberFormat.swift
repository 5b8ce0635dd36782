#if canImport(Glibc)
import Glibc
#endif

/// printf-style number formatting without Foundation.
public enum NumberFormat {
    public static func c(_ format: String, _ value: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    /// `1.234e-05` style.
    public static func scientific(_ v: Double) -> String { v.isFinite ? c("%.3e", v) : "inf" }
    /// Fixed with `digits` decimals.
    public static func fixed(_ v: Double, _ digits: Int = 3) -> String { c("%.\(digits)f", v) }
}
