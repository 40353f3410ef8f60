// The kernels' translation unit, built for the host: kernels/hip/unicorn.cu as it is, then the
// tests' declarations, checked against the definitions. Built twice: with emu/cuda_runtime.h
// force-included (vendor.h's CUDA branch; emu/ supplies <cuda_fp16.h> and <mma.h>), and with
// emu/hip/hip_runtime.h (its HIP branch for gfx1103; emu/hip/ supplies <hip/hip_fp16.h>).
#include "unicorn.cu"

#include "kernels.h"

// Two __shared__ variables, one in a template (COMDAT) and one in a static function, for the
// runner's check that the kernels' static storage is where it poisons (emu/emu.cpp).
template <int N> inline float *ucn_emu_probe_t() {
    __shared__ float s[N];
    return s;
}
static float *ucn_emu_probe_s() {
    __shared__ float s[4];
    return s;
}
extern "C" const void *ucn_emu_probe_shared(int which) {
    return which ? (const void *)ucn_emu_probe_s() : (const void *)ucn_emu_probe_t<4>();
}

// What runs must be one of the two paths the GPU compilers build: the CUDA spelling's sm_70+
// path (wmma on the tensor cores, dp4a; emu/cuda_runtime.h defines __CUDA_ARCH__ 900), or the
// HIP spelling's gfx1103 path (RDNA3 WMMA, sudot4; emu/hip/hip_runtime.h with __gfx1103__).
#if !((defined(UCN_CUDA) && defined(UCN_NV_TENSOR_CORES) && !defined(UCN_HIP)) || (defined(UCN_HIP) && defined(UCN_RDNA3)))
#error "kernels/hip/vendor.h took neither its CUDA sm_70+ nor its HIP gfx1103 branch under the host emulation"
#endif
