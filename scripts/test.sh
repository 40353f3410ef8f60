#!/usr/bin/env bash
# The test command: installs what is missing, builds (llama.cpp cached), then runs
#   0. the GPU kernels: compiled for gfx1103 and sm_90, code objects checked (build-kernels.sh),
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
stage "kernels: gfx1103 + sm_90 compile and code-object check" bash scripts/build-kernels.sh
stage "kernels: source run on the CPU (emulated GPU threads) vs ggml-cpu" bash scripts/test-kernels-cpu.sh
stage "cargo test" cargo test --release --workspace
stage "unsafe blocks carry SAFETY comments" python3 scripts/check-safety-comments.py
if hardware_present; then
  say "Phoenix hardware present: test-backend-ops runs on it, not emulated"
else
  export UNICORN_EMULATE=1
fi
stage "test-backend-ops UNICORN_NPU0" bash scripts/test-backend-ops.sh UNICORN_NPU0
stage "test-backend-ops UNICORN_IGPU0" bash scripts/test-backend-ops.sh UNICORN_IGPU0
stage "NPU: XRT shim (Debian sid, XRT 2.25), AIE kernel host build in test-backend-ops" bash scripts/npu-test.sh
unset UNICORN_EMULATE  # the integration tests set it per run
stage "integration tests" python3 -m pytest tests/integration -v

echo "unicorn-tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
