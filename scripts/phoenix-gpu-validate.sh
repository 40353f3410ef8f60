#!/usr/bin/env bash
# For the owner of a Phoenix APU (Ryzen 7040/8040, Radeon 780M = gfx1103): validates Unicorn's
# GPU engine on the real iGPU and writes a speed report against llama.cpp's own backends.
# Nobody on the project has run this: no Phoenix machine is in reach of its developers.
#
#   scripts/phoenix-gpu-validate.sh MODEL.gguf [REPORT.md]
#
# Needs ROCm (hipcc, libamdhip64; gfx1103 is "unsupported" in ROCm's list but compiles
# natively) and the Vulkan SDK bits Debian packages (libvulkan-dev, glslc) for the Vulkan peer.
# Steps:
#   1. the usual build (scripts/common.sh: llama.cpp pinned + patched, libggml-unicorn.so);
#   2. the kernels for gfx1103 with this machine's hipcc, checked (scripts/build-kernels.sh
#      with UCN_HIPCC pointing at it; the project's CI builds them in a Debian trixie root);
#   3. llama.cpp's Vulkan and HIP backends from the same source, as peers;
#   4. test-backend-ops on UNICORN_IGPU0 (every op it claims, against the CPU backend);
#   5. llama-bench pp512/tg128: Unicorn (--backend unicorn), Vulkan0, ROCm0 and the CPU, with
#      ratios, into REPORT.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
model=${1:?usage: $0 MODEL.gguf [REPORT.md]}
report=${2:-$here/phoenix-gpu-report.md}

grep -qs 'gfx_target_version 110003' /sys/class/kfd/kfd/topology/nodes/*/properties \
  || { say "no gfx1103 GPU agent in /sys/class/kfd: this script is for a Phoenix APU"; exit 1; }
hipcc=${UCN_HIPCC:-$(command -v hipcc || echo /opt/rocm/bin/hipcc)}
[ -x "$hipcc" ] || { say "hipcc not found (install ROCm, or set UCN_HIPCC)"; exit 1; }

install_deps
build_all

say "kernels for gfx1103 with $hipcc"
mkdir -p "$here/build/bin/unicorn-kernels"
"$hipcc" --genco --offload-arch=gfx1103 -O3 -std=c++17 -I "$here/kernels/hip" \
  -o "$here/build/bin/unicorn-kernels/unicorn-gfx1103.hsaco" "$here/kernels/hip/unicorn.cu"

say "peers: llama.cpp's Vulkan and HIP backends from the same pinned source"
src=$(readlink -f "$here/vendor/llama.cpp")
peer=$UNICORN_CACHE/phoenix-peers
cmake -S "$src" -B "$peer" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_BACKEND_DL=ON -DBUILD_SHARED_LIBS=ON \
  -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DGGML_VULKAN=ON -DGGML_HIP=ON -DAMDGPU_TARGETS=gfx1103 -DCMAKE_HIP_COMPILER="$(dirname "$hipcc")/../llvm/bin/clang++" \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF >/dev/null
cmake --build "$peer" -j "$(nproc)" --target ggml-vulkan ggml-hip
cp "$peer"/bin/libggml-vulkan.so "$peer"/bin/libggml-hip.so "$here/build/bin/"

cd "$here/build/bin"
./llama-cli --list-devices 2>&1 | grep -E "UNICORN|Vulkan|ROCm" || true

say "test-backend-ops on UNICORN_IGPU0 (the real gfx1103 engine)"
tbo=PASS
bash "$here/scripts/test-backend-ops.sh" UNICORN_IGPU0 | tee "$report.tbo.txt" || tbo=FAIL

say "llama-bench: Unicorn, Vulkan, HIP, CPU on $model"
bench() { ./llama-bench -m "$model" -p 512 -n 128 -r 3 -o jsonl "$@" 2>/dev/null; }
bench --backend unicorn > "$report.unicorn.jsonl"
bench -dev Vulkan0 -ngl 99 -fa 1 > "$report.vulkan.jsonl"
bench -dev ROCm0 -ngl 99 -fa 1 > "$report.hip.jsonl"
bench -dev none -ngl 0 -fa 1 > "$report.cpu.jsonl"
{
  echo "# Unicorn on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
  echo; echo "Model: $model. test-backend-ops UNICORN_IGPU0: $tbo ($(tail -1 "$report.tbo.txt"))"
  for peer in vulkan hip cpu; do
    echo; echo "## Unicorn against $peer"; echo
    python3 "$here/scripts/bench-compare.py" "$report.unicorn.jsonl" "$report.$peer.jsonl"
  done
} > "$report"
cat "$report"
say "report: $report"
# The exit status carries the verdict: non-zero when test-backend-ops found a failure.
[ "$tbo" = PASS ] || { say "test-backend-ops FAILED on the gfx1103 engine: see $report.tbo.txt"; exit 1; }
