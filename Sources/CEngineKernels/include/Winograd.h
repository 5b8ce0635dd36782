#ifndef ENGINE_WINOGRAD_H
#define ENGINE_WINOGRAD_H
// Winograd F(2×2, 3×3) transforms for stride-1 3×3 convolutions (Lavin & Gray 2015): 16 GEMMs on transformed
// weights and input tiles replace one im2col GEMM with 2.25× the multiplies.
// Tiles: output 2×2 blocks numbered t = ty * tilesX + tx; input tile t reads rows 2ty−pt … 2ty−pt+3 and columns
// 2tx−pl … 2tx−pl+3 (zero outside the image). ξ = 4i + j indexes the 4×4 transformed positions.

#ifdef __cplusplus
extern "C" {
#endif

/// U[ξ][o][c] (each ξ an `outC × inC` row-major matrix, `xiStride` floats apart) = (G g Gᵀ)[ξ] for the 3×3
/// kernels w[o][c] of output channels o0 ..< o1.
void ek_wino_weights(float *U, long xiStride, const float *w, long inC, long o0, long o1);

/// V[ξ][c][t − t0] (rows `ldv` floats apart, ξ planes `xiStride` apart) = (Bᵀ d B)[ξ] for channels c0 ..< c1 of x
/// (`inC × H × W` per image) and tiles t0 ..< t1. Tiles run across images: tile t is tile t % tilesPerImage of
/// image t / tilesPerImage, images `imageStride` floats apart.
void ek_wino_input(float *V, long ldv, long xiStride, const float *x, long imageStride, long H, long W, long pt,
                   long pl, long tilesX, long tilesPerImage, long t0, long t1, long c0, long c1);

/// y[o][oy][ox] = bias[o] + (Aᵀ m A) for output channels o0 ..< o1 and tiles t0 ..< t1 (across images as in
/// `ek_wino_input`, output images `imageStride` floats apart), where m[ξ] = M[ξ·xiStride + o·ldm + (t − t0)];
/// writes only pixels inside `outH × outW`.
void ek_wino_output(float *y, long imageStride, const float *M, long ldm, long xiStride, long outH, long outW,
                    long tilesX, long tilesPerImage, long t0, long t1, long o0, long o1, const float *bias);

#ifdef __cplusplus
}
#endif
#endif
