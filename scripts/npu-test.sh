#!/usr/bin/env bash
# The NPU stage of scripts/test.sh: everything of the NPU engine that runs without an NPU.
#   1. libunicorn-xrt.so (backend/xrt-sys) compiled and linked against XRT 2.25 in the cached
#      Debian sid root, then loaded and called (scripts/npu-xrt-check.sh);
#   2. the AIE kernel's host build under the npu1 tile schedule: test-backend-ops runs every
#      FLASH_ATTN_EXT case UNICORN_NPU0 claims with UNICORN_NPU_EMULATION=aie-host, against the
#      CPU backend (the reference path is the plain test-backend-ops stage).
# On a Phoenix box with the NPU ready the plugin runs the NPU itself instead of (2)'s emulation;
# scripts/phoenix-validate.sh is the full hardware run.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
rc=0
t0=$SECONDS
bash scripts/npu-xrt-check.sh || { echo "npu-test: XRT shim check FAILED"; rc=1; }
echo "npu-test: XRT shim check took $((SECONDS - t0)) s"
t1=$SECONDS
UNICORN_EMULATE=1 UNICORN_NPU_EMULATION=aie-host bash scripts/test-backend-ops.sh UNICORN_NPU0 ||
  { echo "npu-test: test-backend-ops on the aie-host path FAILED"; rc=1; }
echo "npu-test: aie-host test-backend-ops took $((SECONDS - t1)) s"
exit $rc
