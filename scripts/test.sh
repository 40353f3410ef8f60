#!/usr/bin/env bash
# The test command: installs what is missing, builds (llama.cpp cached), then runs
#   0. the GPU kernels: compiled for gfx1100-gfx1103, gfx1150, gfx1151 and sm_90, code objects
#      checked (build-kernels.sh --target all-gfx11),
#   1. the Rust unit tests (dequantisers, kernels, numerics),
#   2. llama.cpp's test-backend-ops on UNICORN_NPU0 and UNICORN_IGPU0 (emulated),
#   3. the integration tests (tokens, KL divergence, server, bench, bad input, placement).
# Ends with one line "unicorn-tests: N passed, N failed" counting those stages.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

set -e
install_deps
install_gpu_toolchains
build_all tests
bash "$here/scripts/setup-llama.sh" unpatched  # tests/integration/test_unpatched.py
model=$(bash "$here/scripts/fetch-model.sh" | tail -1)
say "model: $model"
set +e

passed=0 failed=0
stage() {
  local name=$1; shift
  say "== $name"
  if "$@"; then passed=$((passed + 1)); say "== $name: ok"
  else failed=$((failed + 1)); say "== $name: FAILED"; fi
}

cd "$here"
stage "kernels: gfx11 family (gfx1100-1103, 1150, 1151) + sm_90 compile and code-object check" bash scripts/build-kernels.sh --target all-gfx11
stage "kernels: source run on the CPU (emulated GPU threads) vs ggml-cpu" bash scripts/test-kernels-cpu.sh
stage "cargo test" cargo test --release --workspace
stage "HIP host path through the HIP shim (fake devices, calls recorded)" bash scripts/test-hip-shim.sh
stage "unsafe blocks carry SAFETY comments" python3 scripts/check-safety-comments.py
attn_npu=() attn_igpu=()
if hardware_present; then
  say "Phoenix hardware present: the suites run on it, not emulated"
  # Build what the hardware needs; a part that cannot be built fails this stage, and its device
  # runs emulated (named so) for the rest of the suites.
  phoenix_built=no
  phoenix_install() { bash scripts/phoenix-install.sh && phoenix_built=yes; }
  stage "Phoenix: the gfx11 code object and the NPU kernel files (scripts/phoenix-install.sh)" phoenix_install
  [ "$phoenix_built" = yes ] || export UNICORN_EMULATE=1
  # Each device is tested on every attention case it can run; the integration tests then check
  # the placement UNICORN_ATTN=auto chose (the verdict the plugin logs).
  attn_npu=(env UNICORN_ATTN=npu) attn_igpu=(env UNICORN_ATTN=igpu)
else
  export UNICORN_EMULATE=1
fi
stage "test-backend-ops UNICORN_NPU0" "${attn_npu[@]}" bash scripts/test-backend-ops.sh UNICORN_NPU0
stage "test-backend-ops UNICORN_IGPU0" "${attn_igpu[@]}" bash scripts/test-backend-ops.sh UNICORN_IGPU0
stage "NPU: XRT shim (Debian sid, XRT 2.25), AIE kernel host build in test-backend-ops" bash scripts/npu-test.sh
unset UNICORN_EMULATE  # the integration tests set it per run
stage "integration tests" python3 -m pytest tests/integration -v

echo "unicorn-tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
