// MUL_MAT: dst[i01, i11, i12, i13] = dot(weight row (i01, i12/r2, i13/r3), src1 row (i11, i12, i13)),
// r2 = ne12/ne02, r3 = ne13/ne03. src0: the weight (F32, F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q5_K,
// Q6_K; rows contiguous); src1: F32 (rows contiguous, any row strides); dst: F32, dense.
//
// The kernels; ops/mul_mat.rs `gpu` picks one per node (the rules are in kernels/hip/mul_mat.md):
//
// ucn_mul_mat_vec_<type>_<nc>  few activation columns (ne11 <= nc <= 8: decode). Streams the
//     weights once. Block: 8 warps as blockDim (32, KS, 8 / KS): each group of KS warps owns R
//     rows and splits their K among its warps. Quantized weights: the block quantizes its x
//     columns to int8 (groups of 16, scale d and d * sum(q)) in shared memory; each lane takes one
//     unit of a weight block (32 or 64 weights: UPB units per block), unpacks it to int8 and
//     dot-products it with dp4a. Weights go straight into registers, one work item ahead: one
//     16-byte load per 16 bytes where the block format allows (Q4_K, Q5_K, rows 16-byte aligned),
//     else the two aligned 16-byte vectors that hold them. Float weights: f32 FMAs against x read
//     through the cache.
// ucn_mul_mat_quantize_x, ucn_mul_mat_vecq_<type>_<nc>  the same product in two launches (ops/
//     mul_mat.rs `gpu_prequantized`, for the engine): x quantized once per product into a
//     buffer, then the mat-vec reading it through the cache (no block quantizes anything).
// ucn_mul_mat_mma_<type>  many columns (prefill): 128 x 64 output tiles, 8 warps of 32 x 32, k
//     steps of 32 on the matrix cores (mma.cuh: f16 x f16 -> f32). Each step's weights are
//     dequantized to f16 and x converted to f16 (clamped to +-65504) into shared memory, double
//     buffered, the next step's global loads in flight during the current step's products.
// ucn_mul_mat_small_k  float weights, K <= 32 (Gemma3n's altup mixes, K = 4): one thread per
//     output, consecutive threads on consecutive rows. A warp per output would leave most lanes
//     idle and, with a row per warp, launch a warp for every few bytes.
// ucn_mul_mat_generic  anything: one warp per output, scalar dequantization. Simple and slow:
//     the fallback, and the reference to compare the others with on a GPU.
//
// The parts, as ggml-cuda splits them: quants.cuh (the weight blocks, shared with get_rows.cu),
// mul_mat_vec.cuh (the mat-vec kernels), mul_mat_mma.cuh (the matrix-core tiles); here the two
// small kernels.
#include "common.cuh"
#include "quants.cuh"
#include "mul_mat_vec.cuh"
#include "mul_mat_mma.cuh"

// ---- the general fallback -------------------------------------------------------------------

// Weight i of a row of any supported type (scalar reads; ggml-base's arithmetic, quants.cuh).
static __device__ float ucn_weight(uint32_t type, const uint8_t *row, size_t i) {
    switch (type) {
    case UCN_TYPE_F32: return ucn_dequant<UCN_TYPE_F32>(row, i);
    case UCN_TYPE_F16: return ucn_dequant<UCN_TYPE_F16>(row, i);
    case UCN_TYPE_BF16: return ucn_dequant<UCN_TYPE_BF16>(row, i);
    case UCN_TYPE_Q4_0: return ucn_dequant<UCN_TYPE_Q4_0>(row, i);
    case UCN_TYPE_Q5_0: return ucn_dequant<UCN_TYPE_Q5_0>(row, i);
    case UCN_TYPE_Q8_0: return ucn_dequant<UCN_TYPE_Q8_0>(row, i);
    case UCN_TYPE_Q4_K: return ucn_dequant<UCN_TYPE_Q4_K>(row, i);
    case UCN_TYPE_Q5_K: return ucn_dequant<UCN_TYPE_Q5_K>(row, i);
    case UCN_TYPE_Q6_K: return ucn_dequant<UCN_TYPE_Q6_K>(row, i);
    default: return 0.0f;
    }
}

// Grid (ceil(ne01 / 8), ne11 * ne12 * ne13 over y and z), 256 threads: one warp per output.
UCN_KERNEL void __launch_bounds__(256) ucn_mul_mat_generic(const ucn_mul_mat_args a, const ucn_ptrs p) {
    const int lane = threadIdx.x & 31;
    const size_t m = (size_t)blockIdx.x * 8 + (threadIdx.x >> 5);
    const size_t r = blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    const size_t K = a.src0.ne[0], M = a.src0.ne[1];
    const size_t ne11 = a.src1.ne[1], ne12 = a.src1.ne[2], ne13 = a.src1.ne[3];
    if (m >= M || r >= ne11 * ne12 * ne13) {
        return;
    }
    const size_t i11 = r % ne11, i12 = (r / ne11) % ne12, i13 = r / (ne11 * ne12);
    const size_t r2 = ne12 / a.src0.ne[2], r3 = ne13 / a.src0.ne[3];
    const uint8_t *w = (const uint8_t *)p.src[0] + m * a.src0.nb[1] + (i12 / r2) * a.src0.nb[2] + (i13 / r3) * a.src0.nb[3];
    const float *x = (const float *)((const char *)p.src[1] + i11 * a.src1.nb[1] + i12 * a.src1.nb[2] + i13 * a.src1.nb[3]);
    float sum = 0.0f;
    for (size_t i = lane; i < K; i += 32) {
        sum = fmaf(ucn_weight(a.weight_type, w, i), x[i], sum);
    }
    sum = ucn_warp_sum(sum);
    if (lane == 0) {
        *(float *)((char *)p.dst + m * a.dst.nb[0] + i11 * a.dst.nb[1] + i12 * a.dst.nb[2] + i13 * a.dst.nb[3]) = sum;
    }
}

// Grid (ceil(ne01 * ne11 / 256), ne12 * ne13 over y and z), 256 threads: one thread per output,
// thread t on row t % ne01 of column t / ne01 (writes to dst are contiguous when dst is).
UCN_KERNEL void __launch_bounds__(256) ucn_mul_mat_small_k(const ucn_mul_mat_args a, const ucn_ptrs p) {
    const size_t t = (size_t)blockIdx.x * 256 + threadIdx.x;
    const size_t r = blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    const size_t K = a.src0.ne[0], M = a.src0.ne[1];
    const size_t ne11 = a.src1.ne[1], ne12 = a.src1.ne[2], ne13 = a.src1.ne[3];
    const size_t m = t % M, i11 = t / M;
    if (i11 >= ne11 || r >= ne12 * ne13) {
        return;
    }
    const size_t i12 = r % ne12, i13 = r / ne12;
    const size_t r2 = ne12 / a.src0.ne[2], r3 = ne13 / a.src0.ne[3];
    const uint8_t *w = (const uint8_t *)p.src[0] + m * a.src0.nb[1] + (i12 / r2) * a.src0.nb[2] + (i13 / r3) * a.src0.nb[3];
    const float *x = (const float *)((const char *)p.src[1] + i11 * a.src1.nb[1] + i12 * a.src1.nb[2] + i13 * a.src1.nb[3]);
    float sum = 0.0f;
    for (size_t i = 0; i < K; ++i) {
        sum = fmaf(ucn_weight(a.weight_type, w, i), x[i], sum);
    }
    *(float *)((char *)p.dst + m * a.dst.nb[0] + i11 * a.dst.nb[1] + i12 * a.dst.nb[2] + i13 * a.dst.nb[3]) = sum;
}
