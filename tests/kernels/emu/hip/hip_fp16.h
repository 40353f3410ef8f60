// Host stand-in for <hip/hip_fp16.h>: the same __half / __half2 API as the CUDA one.
#pragma once
#include "../cuda_fp16.h"
