// The one translation unit compiled per target (gfx1103 with hipcc, sm_90 + PTX with nvcc):
// every op family's kernels, one file each, named after the ggml op.
#include "scale.cu"
