// The one translation unit compiled per target (gfx1103 with hipcc, sm_90 + PTX with nvcc):
// every op family's kernels, one file each, named after the ggml op.
#include "scale.cu"
#include "get_rows.cu"
#include "set_rows.cu"
#include "cpy.cu"
#include "unary.cu"
#include "glu.cu"
#include "binary.cu"
#include "rms_norm.cu"
#include "rope.cu"
#include "sum_rows.cu"
#include "concat.cu"
#include "repeat.cu"
