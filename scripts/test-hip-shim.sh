#!/usr/bin/env bash
# Host-side tests of the HIP path without a GPU: builds the HIP shim (scripts/build-hip-shim.sh,
# which checks its exports against hip-sys) and runs gpu/hip.rs against it in fake mode (two
# devices on the host: a discrete gfx1100 listed first, an integrated gfx1103), checking from
# the shim's record what the HIP calls received: device choice by gcnArchName, coarse-grained
# hipHostMalloc flags, the registration flags on an unaligned 64 MiB file mapping, a refused
# registration (injected) turned into a registered copy. Also the fault-injecting mock tests.
#
#   scripts/test-hip-shim.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$here/scripts/common.sh"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
bash "$here/scripts/setup-llama.sh" >&2   # ggml-sys builds against it (seconds when cached)
bash "$here/scripts/build-hip-shim.sh" "$work"
cd "$here"
export UNICORN_HIP_LIB=$work/libhip-cuda-shim.so HIPSHIM_FAKE=gfx1100:discrete,gfx1103:integrated HIPSHIM_LOG=$work/calls.log
cargo test --release -p unicorn --lib gpu:: -- --include-ignored --test-threads=1
echo "[hip-shim] calls the shim recorded:" >&2
sed 's/^/  /' "$work/calls.log" >&2
