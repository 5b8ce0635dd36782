#ifndef ENGINE_KERNELS_H
#define ENGINE_KERNELS_H
// Vector kernels of the Swift engine's FIR filters. Each is compiled for AVX-512, AVX2+FMA and baseline x86-64
// (per-function target attributes, no global flags) and picks the best at run time.
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// dst[m] = (accumulate ? dst[m] : 0) + sum_{t<taps} w[t] * src[m + t], for m in [0, n).
void ek_fir_taps(float *dst, const float *src, const float *w, long taps, long n, int accumulate);

/// Upsampling by 2: out[2m + p] (+)= sum_{t<tp} wp[t] * xp[m + t] for p in {0, 1}; n outputs in total.
void ek_fir_up2(float *out, long n, const float *x0, const float *w0, long t0,
                const float *x1, const float *w1, long t1, int accumulate);

/// Decimation by 2: out[i] (+)= sum_{t<taps} w[t] * x[2i + t], for i in [0, n).
void ek_fir_down2(float *out, const float *x, const float *w, long taps, long n, int accumulate);

/// even[j] = x[2j] for j < ne and odd[j] = x[2j + 1] for j < no, reading x[0 ..< count] only (zero past it).
void ek_deinterleave(const float *x, long count, float *even, long ne, float *odd, long no);

/// dst[m] = sum_{t<taps} w[t] * rows[t][m], for m in [0, n); with taps == 0 writes zeros.
void ek_fir_rows(float *dst, const float *const *rows, const float *w, long taps, long n);

/// In place: x = clamp(x >= 0 ? x : x * slope) * gain, lo, hi).
void ek_lrelu_gain_clamp(float *x, long n, float slope, float gain, float lo, float hi);

/// dst[i] = tanh(src[i]) (dst may be src): within 5 ulp with vector kernels, glibc's tanhf otherwise.
void ek_tanh(float *dst, const float *src, long n);

/// dst[i] = src[i·stride] (n values; reads nothing past src[(n−1)·stride]).
void ek_gather_strided(float *dst, const float *src, long n, long stride);

/// dst[i] = src[i] + b (n values).
void ek_add_scalar(float *dst, const float *src, float b, long n);

/// col2im of a transposed convolution for output channels c0 ..< c1: out[co, iy·sh − pt + ky·dh, ix·sw − pl + kx·dw]
/// += col[((co·kh + ky)·kw + kx)·ld + iy·inW + ix], skipping positions outside `outH × outW`.
void ek_col2im(float *out, const float *col, long ld, long inH, long inW, long kh, long kw, long sh, long sw,
               long dh, long dw, long pt, long pl, long outH, long outW, long c0, long c1);

/// In place exp(x - max) of n contiguous values; returns their sum (softmax without the final division).
float ek_exp_shifted_row(float *p, long n);

/// In place softmax of n contiguous values: exp(x - max) / sum (exp within 2 ulp).
void ek_softmax_row(float *p, long n);

/// glibc: serve large blocks from the heap and keep freed memory mapped (see EngineMemory.swift).
void ek_keep_freed_memory(void);

/// Small-batch linear: out[r*ldo + o] = (bias ? bias[o] : 0) + sum_i x[r*ldx + i] * w[o*k + i] for r < rows (<= 8),
/// o in [o0, o1). Returns 0 when no vector kernel is available (the caller then uses GEMM).
int ek_linear_small(float *out, long ldo, const float *x, long ldx, long rows, const float *w, long k,
                    long o0, long o1, const float *bias);

/// Most taps per filter axis `ek_flrelu_up2_down2` takes (the caller falls back to the generic path beyond).
#define EK_FLRELU_MAX_TAPS 64

/// One channel plane of filtered leaky ReLU with up = down = 2 on both axes and separable filters:
/// `in (+bias) → up-FIR → lrelu·gain, clamp → down-FIR → out`. Index tables come from the Swift FIR plans.
typedef struct {
    long inH, inW, midH, midW, outH, outW;
    /// Up, x: each input row sits in a zeroed row of `paddedX` values at offset `marginX`; even mid columns
    /// 2m read it from `x0 + m` with taps wx0[0..<tx0], odd columns 2m+1 from `x1 + m` with wx1[0..<tx1].
    long paddedX, marginX, x0, x1, tx0, tx1;
    const float *wx0, *wx1;
    /// Up, y: mid row r = sum_{t<ty} wy[yPhase[r]·ty + t] · xrow(yFirst[r] + t); rows outside [0, inH) are zero.
    const long *yFirst, *yPhase;
    const float *wy;
    long ty;
    /// Down: out(i, j) = sum_{a<tdy, b<tdx} wdy[a] · wdx[b] · mid(2i + a, 2j + b).
    const float *wdy, *wdx;
    long tdy, tdx;
    float slope, gain, lo, hi;
} ek_flrelu_plan;

/// Floats of scratch `ek_flrelu_up2_down2` needs for `plan`.
long ek_flrelu_scratch(const ek_flrelu_plan *plan);

/// Filters planes p0 ..< p1 of `src` (`inH × inW` each, plus bias[p % channels] when bias is not NULL) into the
/// `outH × outW` planes of `dst`.
void ek_flrelu_up2_down2(const ek_flrelu_plan *plan, const float *src, float *dst, const float *bias, long channels,
                         long p0, long p1, float *scratch);

/// Floats of the panels `ek_panel_pack` makes of a k × n operand (n rounded up to 32 columns).
long ek_panel_floats(long k, long n);

/// Packs the k × n operand b(p, j) = b[p*ldb + j] (or b[j*ldb + p] when `transposed`) into panels of 32 columns:
/// panel q holds b(p, 32q ..< 32q + 32) for each p in turn, zero past n.
void ek_panel_pack(float *dst, const float *b, long ldb, long k, long n, int transposed);

/// c[i*ldc + j] = alpha * (rowScale ? rowScale[i] : 1) * sum_p a[i*lda + p] * b(p, j) for i < m, j < n, with b
/// given as `ek_panel_pack` panels. Returns 0 when no vector kernel is available (the caller then uses GEMM).
int ek_panel_gemm(long m, long n, long k, float alpha, const float *a, long lda, const float *panels, float *c,
                  long ldc, const float *rowScale);

/// The rows and columns of the blocked GEMM's tile on this CPU (12 × 32 with AVX-512, 6 × 16 with AVX2): callers
/// that cut C between threads cut at multiples of these.
void ek_gemm_tile(long *rows, long *cols);

/// Floats of (64-byte aligned) scratch `ek_gemm` needs for an m × n × k product.
long ek_gemm_scratch_floats(long m, long n, long k);

/// Row-major C = alpha·op(A)·op(B) + beta·C + bias on the calling thread (op = transpose when asked; beta = 0
/// never reads C; k > 0), where bias adds rowBias[i] (m values) and colBias[j] (n values) when not NULL. With
/// beta = 0 this rounds exactly as filling C with the bias and multiplying with beta = 1. Returns 0 when no vector
/// kernel is available (the caller then uses BLAS).
int ek_gemm(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda, const float *b,
            long ldb, float beta, float *c, long ldc, const float *rowBias, const float *colBias, float *scratch);

/// One image batch seen as an im2col matrix: rows (c, ky, kx) for c < channels, columns the output pixels of
/// image 0, then image 1, … (images `imageStride` floats apart); element x[c, oy·sh − padTop + ky·dh,
/// ox·sw − padLeft + kx·dw], zero outside the image.
typedef struct {
    const float *x;
    long imageStride;
    long channels, height, width, kh, kw, sh, sw, dh, dw, padTop, padLeft, outH, outW;
    /// 1 when x is a zero-padded copy (`ek_conv_pad`): padTop = padLeft = 0, every window lies inside the image,
    /// and 16 floats before the first channel and after the last may be read.
    long guarded;
    /// 2 when each channel of the guarded copy is split by column parity (a stride-2 conv's copy): its even
    /// columns (a plane of height × width), then its odd ones; sw is then 1, as it is within one half.
    long phases;
} ek_conv_source;

/// Whether `ek_conv_gemm` gathers faster from a zero-padded copy of a padded convolution's image (AVX2: its
/// gathers are slow, and a padded copy turns most of them into plain loads).
int ek_conv_prefers_padded(const ek_conv_source *src);

/// Floats per channel of the zero-padded copy of `src`'s image that `ek_conv_pad` makes.
long ek_conv_padded_plane(const ek_conv_source *src);

/// Writes channels c0 ..< c1 of the zero-padded copy of `src`'s (first) image to dst (`ek_conv_padded_plane`
/// floats per channel): rows and columns padded so every window lies inside; for stride-2 columns, split into
/// even and odd columns (`phases`), so the windows of neighbouring outputs are neighbours.
void ek_conv_pad(const ek_conv_source *src, float *dst, long c0, long c1);

/// The source that reads the copy `ek_conv_pad` made of `src` at x (guarded: 16 readable floats on either side).
ek_conv_source ek_conv_padded_source(const ek_conv_source *src, const float *x);

/// Floats of (64-byte aligned) scratch `ek_conv_gemm` needs for an m × n product of depth k.
long ek_conv_gemm_scratch_floats(long m, long n, long k);

/// Whether `ek_conv_gemm` runs on columns 0 ..< columns of `src` (an AVX2 or AVX-512 CPU, and offsets within 32
/// bits).
int ek_conv_gemm_supported(const ek_conv_source *src, long columns);

/// c[i*ldc + j] = sum_p w[i*ldw + p] · col(p, j0 + j) (+ rowBias[i]) for i < m, j < n, where col is the im2col
/// matrix of `src`, gathered as B is packed (never built). Rounds exactly as `ek_gemm` on the built matrix with
/// beta = 0. Returns 0 when not `ek_conv_gemm_supported` (the caller then builds im2col).
int ek_conv_gemm(long m, long n, const float *w, long ldw, const ek_conv_source *src, long j0, float *c, long ldc,
                 const float *rowBias, float *scratch);

/// Rows of the packed form of an m-row A (`ek_gemm_pack_a`): m rounded up to the blocked GEMM's tile rows (0
/// without AVX2).
long ek_gemm_packed_rows(long m);

/// Floats of the packed form of an m × k A (`ek_gemm_pack_a`), slack included.
long ek_gemm_packed_floats(long m, long k);

/// Packs rows r0 ..< r1 (r0 a multiple of the tile's rows, r1 one too or ≥ m) of the row-major m × k matrix a into
/// `packed` (`ek_gemm_packed_floats(m, k)` floats): the micro-panels `ek_conv_gemm` would pack on every call, for
/// every depth slab. Disjoint row ranges may be packed on different threads.
void ek_gemm_pack_a(const float *a, long lda, long m, long k, long r0, long r1, float *packed);

/// The depth of the blocked GEMM's slabs (KC): a product of depth k sums slab after slab, each slab's sum merged
/// into C before the next (so k = KC products chained with beta = 1 give the same bits as one product).
long ek_gemm_slab_depth(void);

/// Columns of the packed form of an n-column B (`ek_gemm_pack_b`): n rounded up to the tile's columns.
long ek_gemm_packed_columns(long n);

/// Floats of the packed form of a k × n B (`ek_gemm_pack_b`).
long ek_gemm_packed_b_floats(long k, long n);

/// Packs columns j0 ..< j1 (j0 a multiple of the tile's columns, j1 one too or ≥ n) of the k × n matrix B (b
/// row-major, or its transpose when `transposed`: B(p, j) = b[j·ldb + p]) into `packed`
/// (`ek_gemm_packed_b_floats(k, n)` floats): the panels `ek_gemm` would pack on every call, for every depth slab.
void ek_gemm_pack_b(const float *b, long ldb, int transposed, long k, long n, long j0, long j1, float *packed);

/// `ek_gemm` with A and/or B packed ahead (NULL: packed as usual): this product's rows are rows row0 ..< row0 + m
/// of `packedA` (`ek_gemm_pack_a`, `packedRows` padded rows), its columns columns column0 ..< column0 + n of
/// `packedB` (`ek_gemm_pack_b`, `packedColumns` padded columns); row0 and column0 multiples of the tile. Same
/// sums, same bits. Returns 0 when it cannot run (no kernel, or misaligned rows or columns).
int ek_gemm_prepacked(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                      const float *packedA, long packedRows, long row0, const float *b, long ldb, const float *packedB,
                      long packedColumns, long column0, float beta, float *c, long ldc, const float *rowBias,
                      const float *colBias, float *scratch);

/// `ek_conv_gemm` with the weight packed ahead (`ek_gemm_pack_a` of all `packedRows`-padded rows): this product's
/// m rows are rows row0 ..< row0 + m of it (row0 a multiple of the tile's rows). Same sums, same bits. Returns 0
/// when it cannot run (then call `ek_conv_gemm`).
int ek_conv_gemm_packed(long m, long n, const float *packed, long packedRows, long row0, const ek_conv_source *src,
                        long j0, float *c, long ldc, const float *rowBias, float *scratch);

/// The most output channels `ek_conv_few` takes.
#define EK_CONV_FEW_MAX 6

/// Direct convolution of one image (`src`, its first im2col columns) for m ≤ EK_CONV_FEW_MAX output channels:
/// out[o·outH·outW + p] = (bias ? bias[o] : 0) + sum_r w[o·k + r] · col(r, p) for output pixels p0 ≤ p < p1,
/// k = channels·kh·kw, summed in r order. Returns 0 (writing nothing) without AVX2, for more channels or
/// kernels wider than 64 columns.
int ek_conv_few(const ek_conv_source *src, const float *w, long m, const float *bias, float *out, long p0, long p1);

/// Which kernel family runs: 3 = AVX-512, 2 = AVX2+FMA, 1 = baseline.
int ek_kernel_level(void);

#ifdef __cplusplus
}
#endif
#endif
