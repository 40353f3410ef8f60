#!/usr/bin/env bash
# The Phoenix owner's one script: build the NPU kernels, install them, run llama.cpp's tests and
# llama-bench with attention on the NPU and off, and write a report.
#
#   scripts/npu-phoenix-validate.sh [-m model.gguf] [-o report.md]
#
# THIS SCRIPT HAS NOT RUN: the project has no Phoenix machine. It is written against the public
# instructions of mlir-aie / llvm-aie (Peano) and XRT; expect to fix a flag or two on the first
# run, and please send back the report (and the fixes).
#
# Needs: a Ryzen 7040/8040 (Phoenix/Hawk Point) with the amdxdna driver (/dev/accel/accel0),
# XRT >= 2.17 with its development headers (e.g. Debian sid/Ubuntu 25.04+: libxrt-dev,
# libxrt2, libxrt-npu2), Python >= 3.10, and this repository's scripts/run.sh prerequisites.
# Steps:
#   1. checks: the NPU, XRT (xrt-smi examine), a Python virtual environment for the wheels;
#   2. installs the mlir_aie and llvm-aie (Peano) wheels from their projects' GitHub release
#      pages (pip --find-links on the release's asset list: MLIR_AIE_RELEASE, default
#      latest-wheels-2; PEANO_RELEASE, default nightly; MLIR_AIE_VERSION pins a version) into
#      $UNICORN_CACHE/npu-venv;
#   3. builds the plugin (cargo) and libunicorn-xrt.so against the installed XRT, the kernels
#      (kernels/npu/flash_attn_ext/Makefile: .o with Peano, .xclbin with aiecc.py, the
#      instruction-sequence templates and patch tables with patchmap.py), and installs them
#      beside the plugin (build/bin/libunicorn-xrt.so, build/bin/npu/);
#   4. llama-cli --list-devices: UNICORN_NPU0 must say "XRT ... on RyzenAI-npu1";
#   5. test-backend-ops -o FLASH_ATTN_EXT -b UNICORN_NPU0 on the NPU (the cases with a template)
#      and the emulated aie-host path for comparison;
#   6. llama-bench pp512/tg128, attention on the NPU (UNICORN_ATTN=npu) and on the iGPU
#      (UNICORN_ATTN=igpu), with the NPU in performance mode;
#   7. the report: versions, devices, test counts, bench table, the cost model's predictions
#      next to the measurements (docs/npu-cost-model.md).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UNICORN_CACHE=${UNICORN_CACHE:-$HOME/.cache/unicorn}
MLIR_AIE_RELEASE=${MLIR_AIE_RELEASE:-latest-wheels-2}
PEANO_RELEASE=${PEANO_RELEASE:-nightly}
MLIR_AIE_WHEELS=https://github.com/Xilinx/mlir-aie/releases/expanded_assets/$MLIR_AIE_RELEASE
PEANO_WHEELS=https://github.com/Xilinx/llvm-aie/releases/expanded_assets/$PEANO_RELEASE
mlir_aie_spec=mlir_aie${MLIR_AIE_VERSION:+==$MLIR_AIE_VERSION}
model="" report="$here/npu-phoenix-report.md"
while getopts "m:o:" opt; do
  case $opt in m) model=$OPTARG ;; o) report=$OPTARG ;; *) echo "usage: $0 [-m model.gguf] [-o report.md]"; exit 2 ;; esac
done
say() { echo "[npu-validate] $*" >&2; }
die() { say "error: $*"; echo "- FAILED: $*" >> "$report"; exit 1; }
section() { printf '\n## %s\n\n' "$1" >> "$report"; }
bin=$here/build/bin

printf '# Unicorn NPU validation on %s\n\n%s\n' "$(hostname)" "$(date -u '+%Y-%m-%d %H:%M UTC')" > "$report"

# --- 1. the machine ------------------------------------------------------------------------
section "Machine"
accel=$(ls /sys/class/accel/*/device/driver 2>/dev/null | xargs -r -n1 readlink | grep -c amdxdna || true)
[ "${accel:-0}" -gt 0 ] || die "no amdxdna NPU (/sys/class/accel/*/device/driver): this script is for a Phoenix box"
{ echo '```'; uname -r; grep -m1 'model name' /proc/cpuinfo; (xrt-smi examine 2>&1 || xbutil examine 2>&1) | head -40; echo '```'; } >> "$report"
xrt_root=${XRT_ROOT:-}
for r in "$xrt_root" /opt/xilinx/xrt /usr; do
  [ -n "$r" ] && [ -e "$r/include/xrt/xrt_hw_context.h" ] && { xrt_root=$r; break; }
done
[ -e "$xrt_root/include/xrt/xrt_hw_context.h" ] || die "no XRT >= 2.17 headers (xrt/xrt_hw_context.h): install libxrt-dev or set XRT_ROOT"

# --- 2. the kernel toolchain ---------------------------------------------------------------
venv=$UNICORN_CACHE/npu-venv
if [ ! -x "$venv/bin/aiecc.py" ]; then
  say "installing $mlir_aie_spec ($MLIR_AIE_RELEASE) and llvm-aie ($PEANO_RELEASE) into $venv"
  python3 -m venv "$venv" || die "python3 -m venv failed"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "$mlir_aie_spec" -f "$MLIR_AIE_WHEELS" || die "mlir_aie wheel from $MLIR_AIE_WHEELS"
  "$venv/bin/pip" install -q llvm-aie -f "$PEANO_WHEELS" || die "llvm-aie (Peano) wheel from $PEANO_WHEELS"
  "$venv/bin/pip" install -q numpy ml_dtypes
fi
export PATH=$venv/bin:$PATH
{ echo "- mlir_aie: $("$venv/bin/pip" show mlir_aie 2>/dev/null | awk '/^Version/ {print $2}')";
  echo "- llvm-aie: $("$venv/bin/pip" show llvm-aie 2>/dev/null | awk '/^Version/ {print $2}')";
  echo "- XRT headers: $xrt_root"; } >> "$report"

# --- 3. build and install ------------------------------------------------------------------
section "Build"
say "building llama.cpp (cached) and the plugin"
(source "$here/scripts/common.sh" && install_deps && build_all) || die "build_all"
say "building libunicorn-xrt.so against $xrt_root"
(cd "$here" && XRT_ROOT=$xrt_root cargo build --release -p xrt-sys) || die "xrt-sys build"
shim=$(find "$here/target/release/build" -name libunicorn-xrt.so -path '*xrt-sys*' -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2)
[ -n "$shim" ] || die "libunicorn-xrt.so was not built (XRT headers not found by build.rs?)"
cp "$shim" "$bin/libunicorn-xrt.so"
say "building the NPU kernels (Peano, aiecc.py, patchmap.py)"
t0=$SECONDS
make -C "$here/kernels/npu/flash_attn_ext" OUT="$bin/npu" PYTHON="$venv/bin/python3" > "$UNICORN_CACHE/npu-kernels-build.log" 2>&1 ||
  { tail -30 "$UNICORN_CACHE/npu-kernels-build.log" >&2; die "kernel build (log: $UNICORN_CACHE/npu-kernels-build.log)"; }
{ echo "- kernels built in $((SECONDS - t0)) s:"; echo '```'; ls -l "$bin/npu" | grep -E 'xclbin|insts|patch'; echo '```'; } >> "$report"

# --- 4. the device -------------------------------------------------------------------------
section "Devices"
export UNICORN_NPU_PMODE=${UNICORN_NPU_PMODE:-performance}
devices=$("$bin/llama-cli" --list-devices 2>&1)
{ echo '```'; echo "$devices" | grep -E 'UNICORN|unicorn'; echo '```'; } >> "$report"
echo "$devices" | grep -q 'UNICORN_NPU0: .*XRT' || die "UNICORN_NPU0 is not running on XRT (see the log lines above in the report)"

# --- 5. test-backend-ops -------------------------------------------------------------------
section "test-backend-ops FLASH_ATTN_EXT"
for path in npu aie-host; do
  if [ $path = npu ]; then env=(UNICORN_ATTN=npu); else env=(UNICORN_EMULATE=1 UNICORN_NPU_EMULATION=aie-host UNICORN_NPU_KERNELS=/nonexistent); fi
  out=$(env "${env[@]}" "$bin/test-backend-ops" test -o FLASH_ATTN_EXT -b UNICORN_NPU0 2>&1)
  ok=$(grep -c 'OK' <<< "$out"); fail=$(grep -c 'FAIL' <<< "$out"); skip=$(grep -c 'not supported' <<< "$out")
  echo "- $path: $ok passed, $fail failed, $skip not supported" >> "$report"
  grep 'FAIL' <<< "$out" | head -20 | sed 's/^/    /' >> "$report"
done
perf=$(UNICORN_ATTN=npu "$bin/test-backend-ops" perf -o FLASH_ATTN_EXT -b UNICORN_NPU0 2>&1 | grep -E 'us/run' | head -30)
{ echo; echo "Perf (NPU, cases with a template):"; echo '```'; echo "$perf"; echo '```'; } >> "$report"

# --- 6. llama-bench, NPU on and off --------------------------------------------------------
section "llama-bench"
if [ -z "$model" ]; then
  model=$(bash "$here/scripts/fetch-model.sh" | tail -1)
fi
for attn in npu igpu; do
  echo "### attention on: $attn" >> "$report"
  UNICORN_ATTN=$attn "$bin/llama-bench" --backend unicorn -m "$model" -p 512 -n 128 -r 3 -o md 2>/dev/null >> "$report" ||
    echo "- llama-bench failed with UNICORN_ATTN=$attn" >> "$report"
done
gemma3n=$UNICORN_CACHE/model/gemma3n-e2b-q4km.gguf
if [ -e "$gemma3n" ] || python3 "$here/scripts/gen-gemma3n.py" --preset e2b --quantize Q4_K_M -o "$gemma3n" >/dev/null 2>&1; then
  for attn in npu igpu; do
    echo "### Gemma3n E2B (synthetic weights), attention on: $attn" >> "$report"
    UNICORN_ATTN=$attn "$bin/llama-bench" --backend unicorn -m "$gemma3n" -p 512 -n 64 -d 0,4096 -r 2 -o md 2>/dev/null >> "$report" ||
      echo "- llama-bench failed" >> "$report"
  done
fi

# --- 7. the model's predictions, for comparison --------------------------------------------
section "Cost model (predictions, docs/npu-cost-model.md)"
{ echo '```'; python3 "$here/scripts/npu-cost-model.py" --ctx 4096 | grep -E 'per token|micro-batch|break-even'; echo '```'; } >> "$report"
say "report: $report"
