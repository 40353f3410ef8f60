#!/usr/bin/env bash
# Builds backend/hip-cuda-shim into libhip-cuda-shim.so: a HIP runtime (the functions hip-sys
# loads, AMD's ABI values) on the CUDA driver API, so gpu/hip.rs runs on NVIDIA GPUs
# (docs/hip-shim.md). Checks that it exports exactly the hip* functions hip-sys resolves.
#
#   scripts/build-hip-shim.sh [OUTDIR]        (default build/bin)
#
# Needs a C compiler and cuda.h: $CUDA_INCLUDE, else /usr/local/cuda/include, else the nvcc
# wheels of scripts/setup-gpu-toolchains.sh cuda. libcuda.so.1 is opened at run time
# (hipInit), so the library builds and loads on machines without a GPU.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { echo "[hip-shim] $*" >&2; }
die() { say "error: $*"; exit 1; }
out=${1:-$here/build/bin}
mkdir -p "$out"

inc=${CUDA_INCLUDE:-}
if [ -z "$inc" ] && [ -f /usr/local/cuda/include/cuda.h ]; then inc=/usr/local/cuda/include; fi
if [ -z "$inc" ]; then
  eval "$(bash "$here/scripts/setup-gpu-toolchains.sh" cuda)"
  inc=$(dirname "$UCN_CUDA_BIN")/include
fi
[ -f "$inc/cuda.h" ] || die "no cuda.h in $inc (set CUDA_INCLUDE)"
cc=${CC:-cc}
src=$here/backend/hip-cuda-shim
"$cc" -std=gnu11 -O2 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden -I"$inc" \
  -o "$out/libhip-cuda-shim.so.tmp" "$src/hip_cuda_shim.c" -ldl -lpthread
mv "$out/libhip-cuda-shim.so.tmp" "$out/libhip-cuda-shim.so"

# The exports must be the functions hip-sys loads (its hip_api! list), no more, no less.
want=$(grep -oE '^\s+fn (hip[A-Za-z0-9_]+)' "$here/backend/hip-sys/src/lib.rs" | awk '{print $2}' | sort)
have=$(nm -D --defined-only "$out/libhip-cuda-shim.so" | awk '{print $3}' | sort)
if [ "$want" != "$have" ]; then
  diff <(echo "$want") <(echo "$have") | sed 's/^</  hip-sys loads, shim lacks:/; s/^>/  shim exports, hip-sys does not load:/' >&2
  die "the shim's exports differ from what hip-sys loads"
fi
say "$out/libhip-cuda-shim.so: $(echo "$have" | wc -l) hip* functions, the same as hip-sys loads (cuda.h from $inc)"
