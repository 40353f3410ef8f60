// The kernels' translation unit, built for the host: kernels/hip/unicorn.cu as it is (its
// vendor.h takes the CUDA branch; emu/cuda_runtime.h is force-included and emu/ supplies
// <cuda_fp16.h> and <mma.h>), then the tests' declarations, checked against the definitions.
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

// What runs must be the CUDA spelling's sm_70+ path (wmma on the tensor cores, dp4a): the one
// nvcc compiles for sm_90. emu/cuda_runtime.h defines __CUDA_ARCH__ 900 for that.
#if !defined(UCN_CUDA) || !defined(UCN_NV_TENSOR_CORES) || defined(UCN_HIP)
#error "kernels/hip/vendor.h did not take its CUDA sm_70+ branch under the host emulation"
#endif
