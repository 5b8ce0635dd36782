import CEngineKernels

/// Convolutions with at most `EK_CONV_FEW_MAX` output channels per group (RGB heads) as a direct kernel
/// (`ek_conv_few`) instead of a GEMM that would pad them to a 12-row micro-panel and gather every im2col element
/// for a few multiplies each. On AVX-512 and AVX2+FMA CPUs, unless `GANKIT_GEMM=openblas`.
enum FewOutputConv {
    static let maxChannels = Int(EK_CONV_FEW_MAX)

    /// Whether the direct kernel runs: where the blocked GEMM does (AVX-512 or AVX2, not `GANKIT_GEMM=openblas`).
    static var enabled: Bool { BlockedGEMM.enabled }

    /// Runs the convolution and returns true, or returns false (writing nothing) when the kernel does not apply.
    static func convolve(x: UnsafePointer<Float>, batch: Int, inChannels c: Int, weight: UnsafePointer<Float>,
                         outChannels o: Int, bias: UnsafePointer<Float>?, groups: Int, geometry geo: ConvGeometry,
                         out: UnsafeMutablePointer<Float>) -> Bool {
        let og = o / groups
        guard enabled, og >= 1, og <= maxChannels else { return false }
        let inPlane = geo.height * geo.width, p = geo.cols, k = geo.rows
        var probe = ImplicitConvGEMM.source(x, geo)
        guard ek_conv_few(&probe, weight, og, bias, out, 0, 0) != 0 else { return false }
        // Pixel chunks of whole 64-pixel blocks, enough of them that every core gets several.
        let items = batch * groups
        let wanted = max(1, (4 * Parallel.coreCount + items - 1) / items)
        let chunk = max(64, ((p + wanted - 1) / wanted + 63) / 64 * 64)
        let chunks = (p + chunk - 1) / chunk
        Parallel.forEach(items * chunks) { t in
            let item = t / chunks, p0 = (t % chunks) * chunk
            let b = item / groups, gi = item % groups
            var source = ImplicitConvGEMM.source(x + (b * c + gi * geo.channels) * inPlane, geo)
            _ = ek_conv_few(&source, weight + gi * og * k, og, bias.map { $0 + gi * og },
                            out + (b * o + gi * og) * p, p0, min(p, p0 + chunk))
        }
        return true
    }
}
