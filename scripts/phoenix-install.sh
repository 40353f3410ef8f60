#!/usr/bin/env bash
# Builds what the Phoenix hardware needs beside the plugin, on the machine that has it (called
# by scripts/run.sh and scripts/test.sh when the plugin's probe reports Phoenix hardware):
#   1. the GPU code object for the iGPU's gfx11 target (the probe's gfx11=), into
#      build/bin/unicorn-kernels/unicorn-<gfx>.hsaco: with the system's ROCm hipcc when there
#      is one (UNICORN_HIPCC, else hipcc on PATH, else /opt/rocm/bin/hipcc), else with the cached
#      toolchain CI uses (scripts/build-kernels.sh, Debian trixie's hipcc; gfx1103);
#   2. when the probe found an NPU: the XRT shim build/bin/libunicorn-xrt.so (crate xrt-sys,
#      against the installed XRT >= 2.17 headers: XRT_ROOT, /opt/xilinx/xrt or /usr) and the NPU
#      kernel files, into build/bin/npu (scripts/npu-build.sh: pinned MLIR-AIE/Peano wheels).
# Test hooks: UNICORN_HIPCC (the hipcc to use), UNICORN_NPU_BUILD (the NPU kernel build command,
# default scripts/npu-build.sh), UNICORN_PROBE_OVERRIDE=phoenix (the probe reports a Phoenix APU).
# What cannot be built is named (stderr, and a "missing:" line on stdout); the rest is built.
# Exit 0 when everything was built, 3 when something is missing (the caller then emulates the
# device that lacks it, and says so), 1 on a usage error.
#
#   scripts/phoenix-install.sh            (needs build/bin/libggml-unicorn.so: build_all first)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

probe=$(hardware_probe) || { say "the plugin's hardware probe failed: run build_all first"; exit 1; }
get() { sed -n "s/^$1=//p" <<< "$probe" | head -1; }
gfx=$(get gfx11) npu=$(get npu)
grep -qx 'override=phoenix' <<< "$probe" && say "hardware probe OVERRIDDEN (UNICORN_PROBE_OVERRIDE=phoenix): no such hardware is here"
say "Phoenix path: iGPU target ${gfx}, NPU ${npu}"
bin=$here/build/bin
kernels=${UNICORN_KERNELS:-$bin/unicorn-kernels}   # where the plugin looks for code objects
missing=()

# --- 1. the iGPU's code object -----------------------------------------------------------------
gpu_kernels() {
  [ "$gfx" != none ] || { missing+=("iGPU code object: the probe found no gfx11 GPU agent"); return; }
  local out=$kernels/unicorn-$gfx.hsaco
  local newest; newest=$(find "$here/kernels/hip" -type f -newer "$out" 2>/dev/null | head -1)
  if [ -s "$out" ] && [ -z "$newest" ]; then say "iGPU code object up to date: $out"; return; fi
  mkdir -p "$kernels"
  local hipcc=${UNICORN_HIPCC:-$(command -v hipcc || echo /opt/rocm/bin/hipcc)}
  if [ -x "$hipcc" ]; then
    say "building the iGPU code object for $gfx with $hipcc"
    if "$hipcc" --genco --offload-arch="$gfx" -O3 -std=c++17 -I "$here/kernels/hip" \
        -o "$out.tmp" "$here/kernels/hip/unicorn.cu"; then
      mv "$out.tmp" "$out"; say "built $out"; return
    fi
    rm -f "$out.tmp"
    missing+=("iGPU code object for $gfx: $hipcc failed (its errors are above)")
    return
  fi
  if [ "$gfx" != gfx1103 ]; then
    missing+=("iGPU code object for $gfx: no ROCm hipcc here, and the cached toolchain (scripts/build-kernels.sh) builds gfx1103 only; install ROCm or set UNICORN_HIPCC")
    return
  fi
  say "no ROCm hipcc: building the gfx1103 code object with the cached toolchain (scripts/build-kernels.sh)"
  bash "$here/scripts/build-kernels.sh" --target gfx1103 "$kernels" >&2 \
    || missing+=("iGPU code object for gfx1103: scripts/build-kernels.sh failed (see above)")
}

# --- 2. the NPU's kernel files -----------------------------------------------------------------
npu_kernels() {
  [ "$npu" != none ] || { say "no NPU found: no NPU kernel files to build"; return; }
  local xrt_root=${XRT_ROOT:-} r
  for r in "$xrt_root" /opt/xilinx/xrt /usr; do
    [ -n "$r" ] && [ -e "$r/include/xrt/xrt_hw_context.h" ] && { xrt_root=$r; break; }
  done
  if [ ! -e "$xrt_root/include/xrt/xrt_hw_context.h" ]; then
    missing+=("XRT shim: no XRT >= 2.17 headers (xrt/xrt_hw_context.h): install libxrt-dev or set XRT_ROOT")
  else
    say "building the XRT shim libunicorn-xrt.so against $xrt_root"
    local shim
    if (cd "$here" && XRT_ROOT=$xrt_root cargo build --release --quiet -p xrt-sys >&2) &&
       shim=$(find "$here/target/release/build" -name libunicorn-xrt.so -path '*xrt-sys*' -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2) &&
       [ -n "$shim" ]; then
      cp "$shim" "$bin/libunicorn-xrt.so"; say "built $bin/libunicorn-xrt.so"
    else
      missing+=("XRT shim: the xrt-sys build made no libunicorn-xrt.so (see above)")
    fi
  fi
  local build=${UNICORN_NPU_BUILD:-$here/scripts/npu-build.sh}
  if [ ! -x "$build" ]; then
    missing+=("NPU kernel files: $build is missing from this checkout")
    return
  fi
  say "building the NPU kernel files ($build $bin/npu)"
  "$build" "$bin/npu" >&2 || missing+=("NPU kernel files: $build failed (its message is above)")
}

gpu_kernels
npu_kernels
if [ ${#missing[@]} -eq 0 ]; then
  say "Phoenix path: everything built"
  exit 0
fi
for m in "${missing[@]}"; do say "NOT BUILT: $m"; echo "missing: $m"; done
exit 3
