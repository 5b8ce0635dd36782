import Testing
@testable import Engine
import CEngineKernels

/// The implicit-im2col GEMM gathers B from the image while packing it. It must give exactly what the blocked GEMM
/// gives on the built im2col matrix (same products, same order), for every geometry the gathers handle:
/// strides, dilations, asymmetric padding, pixels outside the image, several images side by side, column
/// offsets, 16/32-column panel and 256-column block edges, a 512-deep slab remainder, and pieces on several threads.
@Suite("Implicit-im2col GEMM")
struct ImplicitConvGEMMTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var channels: Int, size: (h: Int, w: Int), kernel: (h: Int, w: Int), stride: (h: Int, w: Int)
        var dilation: (h: Int, w: Int) = (1, 1), pad: (top: Int, left: Int), outChannels: Int, images = 1
        var testDescription: String {
            "\(channels)→\(outChannels) \(size.h)×\(size.w) k\(kernel.h)×\(kernel.w) s\(stride.h),\(stride.w) "
                + "d\(dilation.h),\(dilation.w) p\(pad.top),\(pad.left) ×\(images)"
        }

        var geometry: ConvGeometry {
            // Bottom and right padding as large as the top and left, plus one (asymmetric).
            let outH = (size.h + 2 * pad.top + 1 - dilation.h * (kernel.h - 1) - 1) / stride.h + 1
            let outW = (size.w + 2 * pad.left + 1 - dilation.w * (kernel.w - 1) - 1) / stride.w + 1
            return ConvGeometry(channels: channels, height: size.h, width: size.w, kh: kernel.h, kw: kernel.w,
                                sh: stride.h, sw: stride.w, dh: dilation.h, dw: dilation.w, padTop: pad.top,
                                padLeft: pad.left, outH: outH, outW: outW)
        }
    }

    static let cases = [
        // StyleGAN2-style 4×4 stride 2 with padding 2 (289 columns: a 1-column last panel).
        Case(channels: 8, size: (32, 32), kernel: (4, 4), stride: (2, 2), pad: (2, 2), outChannels: 30),
        // 3×3 stride 1: 576 columns cross 256-column blocks; 576 rows cross a 512-deep slab.
        Case(channels: 64, size: (24, 24), kernel: (3, 3), stride: (1, 1), pad: (1, 1), outChannels: 13),
        // Rectangular kernel, mixed strides, dilation, no padding, odd sizes.
        Case(channels: 5, size: (19, 23), kernel: (3, 2), stride: (3, 1), dilation: (2, 3), pad: (0, 0), outChannels: 7),
        // Padding wider than the kernel reach: whole rows and columns of zeros.
        Case(channels: 3, size: (5, 6), kernel: (2, 2), stride: (1, 2), pad: (3, 3), outChannels: 12),
        // Several images side by side, small planes (BigGAN-deep's 4×4 convs), a column run across images.
        Case(channels: 16, size: (4, 4), kernel: (3, 3), stride: (1, 1), pad: (1, 1), outChannels: 40, images: 5),
        Case(channels: 4, size: (7, 5), kernel: (3, 3), stride: (2, 1), pad: (1, 0), outChannels: 9, images: 3),
    ]

    static func values(_ count: Int, seed: UInt32) -> [Float] {
        var s = seed
        return (0..<count).map { _ in s = s &* 1_664_525 &+ 1_013_904_223; return Float(s >> 8) / Float(1 << 24) - 0.5 }
    }

    @Test(arguments: cases)
    func matchesBlockedGEMMOnBuiltIm2col(c: Case) throws {
        let g = c.geometry, k = g.rows, p = g.cols, cols = p * c.images
        let plane = c.channels * c.size.h * c.size.w
        let x = Self.values(plane * c.images, seed: 7), w = Self.values(c.outChannels * k, seed: 11)
        let bias = Self.values(c.outChannels, seed: 13)
        let source = x.withUnsafeBufferPointer { ImplicitConvGEMM.source($0.baseAddress!, g, imageStride: plane) }
        guard ImplicitConvGEMM.available(source, columns: cols) else {
            #expect(!BlockedGEMM.enabled, "AVX2 or AVX-512 and a small image: the implicit GEMM must be available")
            return
        }
        // The reference: im2col built image by image, then the blocked GEMM with the bias per row.
        var col = [Float](repeating: .nan, count: k * cols)
        x.withUnsafeBufferPointer { xp in
            col.withUnsafeMutableBufferPointer { cp in
                for s in 0..<c.images {
                    im2col(xp.baseAddress! + s * plane, g, rows: 0, k, cols: 0, p, into: cp.baseAddress! + s * p, ld: cols)
                }
            }
        }
        var want = [Float](repeating: .nan, count: c.outChannels * cols)
        _ = w.withUnsafeBufferPointer { wp in
            col.withUnsafeBufferPointer { cp in
                bias.withUnsafeBufferPointer { bp in
                    want.withUnsafeMutableBufferPointer { op in
                        blockedSgemm(transA: false, transB: false, m: c.outChannels, n: cols, k: k, alpha: 1,
                                     a: wp.baseAddress!, lda: k, b: cp.baseAddress!, ldb: cols, beta: 0,
                                     c: op.baseAddress!, ldc: cols, bias: .perRow(bp.baseAddress!), parts: 1)
                    }
                }
            }
        }
        // Whole product on 1–3 pieces, and a product of the columns from 37 on (an offset into the matrix).
        for parts in 1...3 {
            var got = [Float](repeating: .nan, count: c.outChannels * cols)
            x.withUnsafeBufferPointer { xp in
                let source = ImplicitConvGEMM.source(xp.baseAddress!, g, imageStride: plane)
                w.withUnsafeBufferPointer { wp in
                    bias.withUnsafeBufferPointer { bp in
                        got.withUnsafeMutableBufferPointer { op in
                            ImplicitConvGEMM.multiply(m: c.outChannels, n: cols, weight: wp.baseAddress!, ldw: k,
                                                      source: source, c: op.baseAddress!, ldc: cols,
                                                      bias: bp.baseAddress!, parts: parts)
                        }
                    }
                }
            }
            let mismatches = zip(got, want).filter { $0.0.bitPattern != $0.1.bitPattern }.count
            #expect(mismatches == 0, "\(parts) piece(s): \(mismatches) of \(got.count) outputs differ")
        }
        // One image: the same product gathered from the padded copy (on AVX2; split into even and odd columns at
        // stride 2), with the weight packed per call and packed ahead (`PackedMatrix`), on 1–3 pieces.
        if c.images == 1 {
            let packed = w.withUnsafeBufferPointer {
                PackedMatrix(weight: $0.baseAddress!, rows: c.outChannels, depth: k, groups: 1)
            }
            for parts in 1...3 {
                for ahead in [false, true] {
                    var got = [Float](repeating: .nan, count: c.outChannels * cols)
                    x.withUnsafeBufferPointer { xp in
                        ImplicitConvGEMM.withGatherSource(ImplicitConvGEMM.source(xp.baseAddress!, g)) { source in
                            w.withUnsafeBufferPointer { wp in
                                bias.withUnsafeBufferPointer { bp in
                                    got.withUnsafeMutableBufferPointer { op in
                                        ImplicitConvGEMM.multiply(m: c.outChannels, n: cols, weight: wp.baseAddress!,
                                                                  ldw: k, packed: ahead ? PackedOperand(packed) : nil,
                                                                  source: source,
                                                                  c: op.baseAddress!, ldc: cols,
                                                                  bias: bp.baseAddress!, parts: parts)
                                    }
                                }
                            }
                        }
                    }
                    let mismatches = zip(got, want).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                    let how = ahead ? "packed ahead" : "packed per call"
                    #expect(mismatches == 0, "padded copy, \(how), \(parts) piece(s): \(mismatches) outputs differ")
                }
            }
        }
        let j0 = min(37, cols - 1)
        var tail = [Float](repeating: .nan, count: c.outChannels * (cols - j0))
        x.withUnsafeBufferPointer { xp in
            let source = ImplicitConvGEMM.source(xp.baseAddress!, g, imageStride: plane)
            w.withUnsafeBufferPointer { wp in
                tail.withUnsafeMutableBufferPointer { op in
                    ImplicitConvGEMM.multiply(m: c.outChannels, n: cols - j0, weight: wp.baseAddress!, ldw: k,
                                              source: source, j0: j0, c: op.baseAddress!, ldc: cols - j0, bias: nil,
                                              parts: 2)
                }
            }
        }
        var worst: Float = 0
        for i in 0..<c.outChannels {
            for j in j0..<cols {
                worst = max(worst, abs(tail[i * (cols - j0) + j - j0] - (want[i * cols + j] - bias[i])))
            }
        }
        #expect(worst < 1e-5, "columns from \(j0): worst difference \(worst)")
    }
}
