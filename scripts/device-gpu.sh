#!/usr/bin/env bash
# Runs Unicorn's GPU engine for real on an NVIDIA machine of the `device` tool, with what
# scripts/device-pack.sh put in .device/ (carry it). One script, so every change is checked
# the same way:
#   scripts/device-gpu.sh check    test-backend-ops on UNICORN_IGPU0: every op it claims
#   scripts/device-gpu.sh full     check + builds ggml-cuda (the peer) from the same llama.cpp
#                                  source, then perf ratios, models (tokens, KL divergence,
#                                  graph replay) and llama-bench against CUDA0
# Logs and tables go to $OUT (the device tool brings them back), a summary to stdout.
set -uo pipefail
mode=${1:-check}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$here/dev-out}
mkdir -p "$OUT"
cd "$here"
say() { echo "[device] $(date +%T) $*"; }

say "unpacking"
rm -rf build && mkdir -p build
tar xzf .device/bin.tar.gz -C build
cp -r .device/unicorn-kernels build/bin/unicorn-kernels
bin=$here/build/bin
export LD_LIBRARY_PATH=$bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
unset UNICORN_EMULATE
export UNICORN_ATTN=igpu
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv,noheader | tee "$OUT/gpu.txt"

"$bin/llama-cli" --list-devices 2>&1 | tee "$OUT/devices.txt" | grep -E "UNICORN|CUDA|unicorn:" | head

# 1. test-backend-ops: every op UNICORN_IGPU0 claims, against the CPU backend.
tbo() { # name, args...
  local name=$1; shift
  timeout 900 "$bin/test-backend-ops" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  local ok fail
  ok=$(grep -cE '^\s+[A-Z_0-9]+\(.*OK' "$OUT/$name.log")
  fail=$(grep -cE '\): .*FAIL' "$OUT/$name.log")
  say "$name: rc=$rc, $ok OK, $fail FAIL"
  grep -E '\): .*FAIL' "$OUT/$name.log" | sed -E 's/\x1b\[[0-9;]*m//g' | awk '{print $1}' | sed -E 's/\(.*//' | sort | uniq -c | head -20
}
ops=$("$bin/test-backend-ops" support -b UNICORN_IGPU0 --output csv 2>/dev/null \
  | awk -F'","' 'substr($1,2)=="UNICORN_IGPU0" && $5=="1" {print $2}' | sort -u | paste -sd, -)
say "UNICORN_IGPU0 claims: $ops"
echo "$ops" > "$OUT/claimed-ops.txt"
[ -n "$ops" ] && tbo tbo-igpu test -b UNICORN_IGPU0 -o "$ops"

[ "$mode" = full ] || exit 0
