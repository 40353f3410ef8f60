#!/usr/bin/env bash
# The GPU kernels' source, tested on the CPU: every kernel of kernels/hip/unicorn.cu that has
# cases in tests/kernels/ is compiled for the host against an emulation of CUDA's threads
# (tests/kernels/emu/: blocks of fibers with real barriers and warp shuffles), run on seeded
# random inputs with the launch geometry and args the Rust side uses, and compared with
# ggml-cpu by normalised MSE at test-backend-ops' per-op thresholds. It checks the kernels'
# logic, not the GPU compilers or hardware (scripts/build-kernels.sh compiles them for real).
#
#   scripts/test-kernels-cpu.sh [-v] [-k SUBSTRING]
#
# Needs llama.cpp built (build/bin: libggml-base, libggml-cpu; headers in vendor/llama.cpp,
# both from scripts/setup-llama.sh) and a C++17 compiler. Prints a line per op and ends with
# "kernels-cpu: N passed, N failed"; exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$here/build/kernels-cpu
say() { echo "[kernels-cpu] $*" >&2; }

for f in "$here/build/bin/libggml-cpu.so" "$here/build/bin/libggml-base.so" "$here/vendor/llama.cpp/ggml/include/ggml.h"; do
  [ -e "$f" ] || { say "missing $f: build llama.cpp first (scripts/setup-llama.sh)"; echo "kernels-cpu: 0 passed, 1 failed"; exit 1; }
done

# The op files the kernels' translation unit includes, and which of them have cases.
ops=() missing=()
while read -r op; do
  if [ -f "$here/tests/kernels/$op.cpp" ]; then ops+=("$op"); else missing+=("$op"); fi
done < <(sed -n 's/^#include "\([a-z0-9_]*\)\.cu".*/\1/p' "$here/kernels/hip/unicorn.cu")
for f in "$here"/tests/kernels/*.cpp; do
  op=$(basename "$f" .cpp)
  case $op in harness | kernels) continue ;; esac
  grep -q "^#include \"$op\\.cu\"" "$here/kernels/hip/unicorn.cu" \
    || say "$op: cases written, kernels/hip/$op.cu not in unicorn.cu yet: not built"
done
[ ${#missing[@]} -eq 0 ] || say "no cases yet for: ${missing[*]}"

start=$(date +%s)
nice -n 10 make -s -C "$here/tests/kernels" -j "$(nproc)" B="$build" GGML="$here/vendor/llama.cpp" \
  LIBDIR="$here/build/bin" OPS="${ops[*]}" >&2 \
  || { say "build failed"; echo "kernels-cpu: 0 passed, 1 failed"; exit 1; }
say "built in $(( $(date +%s) - start )) s"
exec nice -n 10 "$build/kernels-cpu" -j "$(nproc)" "$@"
