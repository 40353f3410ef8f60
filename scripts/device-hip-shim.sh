#!/usr/bin/env bash
# Runs Unicorn's HIP host path (backend/unicorn/src/gpu/hip.rs) for real on an NVIDIA machine
# of the `device` tool, through the HIP shim (backend/hip-cuda-shim, docs/hip-shim.md), next to
# its CUDA path in the same run. Carry .device/ (scripts/device-pack.sh: tools, kernels, and
# libhip-cuda-shim.so; without the last the shim is built there with cc and
# /usr/local/cuda/include).
#
#   scripts/device-hip-shim.sh [check|bench|all]     (default all)
#
#   check  test-backend-ops test -b UNICORN_IGPU0 on every op it claims, through the HIP path
#          (UNICORN_GPU_RUNTIME=hip, UNICORN_HIP_LIB=the shim, sm_90 fatbin loaded with
#          hipModuleLoadData, graphs through hipGraph*); then the APU path on the same GPU
#          (HIPSHIM_INTEGRATED=1: every buffer hipHostMalloc'd host memory read in place, the
#          flags each call received recorded) on a few ops
#   bench  llama-bench pp512/tg128 on the generated Gemma3n e2b Q4_K_M (tiny when e2b cannot
#          be generated): HIP path and CUDA path, same run, their ratio (done: within 5 %)
# Logs go to $OUT, a summary to stdout.
set -uo pipefail
mode=${1:-all}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$here/dev-out}
mkdir -p "$OUT"
cd "$here"
say() { echo "[hip-shim] $(date +%T) $*"; }

bin=$here/build/bin
if [ -d .device ]; then
  rm -rf build && mkdir -p build
  tar xf .device/bin.tar.* -C build
  cp -r .device/unicorn-kernels build/bin/unicorn-kernels
else
  say "no .device/ (run scripts/device-pack.sh here first and carry .device)"; exit 1
fi
export LD_LIBRARY_PATH=$bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
unset UNICORN_EMULATE
export UNICORN_ATTN=igpu
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

shim=$bin/libhip-cuda-shim.so
if [ -f .device/libhip-cuda-shim.so ]; then cp .device/libhip-cuda-shim.so "$shim"
else bash scripts/build-hip-shim.sh "$bin" 2>&1 | tail -3 || { say "shim build FAILED"; exit 1; }; fi
hip=(env UNICORN_GPU_RUNTIME=hip UNICORN_HIP_LIB="$shim")
cuda=(env UNICORN_GPU_RUNTIME=cuda)

# Which runtime each path really took: the device description names it.
for side in hip cuda; do
  declare -n run=$side
  "${run[@]}" "$bin/llama-cli" --list-devices > "$OUT/devices-$side.txt" 2>&1
  say "$side path: $(grep -m1 -E 'UNICORN_IGPU0' "$OUT/devices-$side.txt" | sed 's/^ *//')"
done
# The device line names the runtime: "GPU engine on <name> (sm_90, HIP)".
grep -qE 'UNICORN_IGPU0.*, HIP\)' "$OUT/devices-hip.txt" || { say "the HIP path did not open the shim:"; grep -m3 unicorn: "$OUT/devices-hip.txt"; exit 1; }
grep -qE 'UNICORN_IGPU0.*, CUDA\)' "$OUT/devices-cuda.txt" || { say "the CUDA path did not open CUDA:"; grep -m3 unicorn: "$OUT/devices-cuda.txt"; exit 1; }

tbo() { # name, env..., -- args...
  local name=$1; shift
  local envs=(); while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  timeout "${TBO_TIMEOUT:-300}" env "${envs[@]}" "$bin/test-backend-ops" "$@" > "$OUT/$name.log" 2>&1
  local rc=$? ok fail verdict=PASSED
  ok=$(grep -cE '^\s+[A-Z_0-9]+\(.*OK' "$OUT/$name.log")
  fail=$(grep -cE '\): .*FAIL' "$OUT/$name.log")
  { [ "$rc" = 0 ] && [ "$fail" = 0 ] && [ "$ok" -gt 0 ]; } || verdict=FAILED
  say "$name: $verdict (rc=$rc, $ok OK, $fail FAIL)"
  grep -E '\): .*FAIL' "$OUT/$name.log" | sed -E 's/\x1b\[[0-9;]*m//g' | awk '{print $1}' | sed -E 's/\(.*//' | sort | uniq -c | head -20
}

if [ "$mode" = check ] || [ "$mode" = all ]; then
  ops=$("${hip[@]}" "$bin/test-backend-ops" support -b UNICORN_IGPU0 --output csv 2>/dev/null \
    | awk -F'","' 'substr($1,2)=="UNICORN_IGPU0" && $5=="1" {print $2}' | sort -u | paste -sd, -)
  say "UNICORN_IGPU0 (HIP path) claims: $ops"
  echo "$ops" > "$OUT/claimed-ops-hip.txt"
  [ -n "$ops" ] || { say "no claimed ops: the HIP path found no device"; exit 1; }
  tbo tbo-hip UNICORN_GPU_RUNTIME=hip UNICORN_HIP_LIB="$shim" -- test -b UNICORN_IGPU0 -o "$ops" -j 8
  # The APU path on this GPU: host memory everywhere, calls and flags recorded.
  TBO_TIMEOUT=240 tbo tbo-hip-apu-path UNICORN_GPU_RUNTIME=hip UNICORN_HIP_LIB="$shim" HIPSHIM_INTEGRATED=1 \
    HIPSHIM_LOG="$OUT/apu-path-calls.log" -- test -b UNICORN_IGPU0 -o ADD,MUL,RMS_NORM,SOFT_MAX,GET_ROWS,CPY -j 8
  say "APU path, hipHostMalloc flags received: $(grep -o 'hipHostMalloc size=[0-9]* flags=0x[0-9a-f]*' "$OUT/apu-path-calls.log" | awk '{print $3}' | sort | uniq -c | xargs)"
fi

if [ "$mode" = bench ] || [ "$mode" = all ]; then
  work=/tmp/unicorn-dev
  mkdir -p "$work/models"
  if [ ! -d "$work/llama-src" ]; then mkdir -p "$work/llama-src" && tar xzf .device/llama-src.tar.gz -C "$work/llama-src"; fi
  mkdir -p vendor && ln -sfn "$work/llama-src" vendor/llama.cpp   # gguf-py for gen-gemma3n.py
  g="python3 scripts/gen-gemma3n.py --tokenizer-from .device/tokenizer.gguf -q"
  [ -f "$work/models/tiny.gguf" ] || $g --preset tiny -o "$work/models/tiny.gguf" > "$OUT/gen-models.log" 2>&1
  [ -f "$work/models/e2b-q4_k_m.gguf" ] || timeout 300 $g --preset e2b --quantize Q4_K_M --threads 8 \
    --llama-quantize "$bin/llama-quantize" -o "$work/models/e2b-q4_k_m.gguf" >> "$OUT/gen-models.log" 2>&1
  model=$work/models/e2b-q4_k_m.gguf
  [ -f "$model" ] || model=$work/models/tiny.gguf
  [ -f "$model" ] || { say "no model could be generated:"; tail -5 "$OUT/gen-models.log"; exit 1; }
  # The APU path with a model: the mapped model registered in place (probe, then the real
  # range), and with the second registration refused (injected): the load goes on with the
  # pages copied in place. Greedy text must equal the CUDA path's.
  p="The three largest rivers of Europe are"
  tiny=$work/models/tiny.gguf
  "${cuda[@]}" "$bin/llama-completion" -m "$tiny" -p "$p" -n 32 --temp 0 --ignore-eos -no-cnv --backend unicorn \
    > "$OUT/tok-cuda.txt" 2> "$OUT/tok-cuda.log"
  for fail in none hipHostRegister@2; do
    "${hip[@]}" HIPSHIM_INTEGRATED=1 HIPSHIM_FAIL=$([ $fail = none ] || echo $fail) HIPSHIM_LOG="$OUT/apu-model-$fail.calls" \
      "$bin/llama-completion" -m "$tiny" -p "$p" -n 32 --temp 0 --ignore-eos -no-cnv --backend unicorn \
      > "$OUT/tok-apu-$fail.txt" 2> "$OUT/tok-apu-$fail.log"
    say "APU path, model loaded (injected failure: $fail): rc=$? text==CUDA path: $(cmp -s "$OUT/tok-cuda.txt" "$OUT/tok-apu-$fail.txt" && echo yes || echo NO);" \
      "hipHostRegister calls: $(grep -c '^hipHostRegister ' "$OUT/apu-model-$fail.calls") ($(grep '^hipHostRegister ' "$OUT/apu-model-$fail.calls" | grep -c injected) refused, flags $(grep -o '^hipHostRegister .*flags=0x[0-9a-f]*' "$OUT/apu-model-$fail.calls" | grep -o 'flags=0x[0-9a-f]*' | sort -u | xargs));" \
      "$(grep -m1 -oE 'refused to register [0-9.]+ MiB|used in place[^;]*' "$OUT/tok-apu-$fail.log")"
  done
  say "llama-bench on $(basename "$model")"
  for side in hip cuda; do
    declare -n run=$side
    timeout 150 "${run[@]}" "$bin/llama-bench" -m "$model" --backend unicorn -p 512 -n 128 -r 3 -o jsonl \
      > "$OUT/bench-$side.jsonl" 2> "$OUT/bench-$side.log"
    say "bench $side: rc=$?"
  done
  python3 - "$OUT/bench-hip.jsonl" "$OUT/bench-cuda.jsonl" <<'PY' | tee "$OUT/bench.md"
import json, sys
def rows(p):
    out = {}
    for line in open(p):
        if line.strip():
            r = json.loads(line); out["pp%d" % r["n_prompt"] if r["n_gen"] == 0 else "tg%d" % r["n_gen"]] = r
    return out
hip, cuda = rows(sys.argv[1]), rows(sys.argv[2])
if not hip or not cuda:
    sys.exit("a llama-bench run produced no rows (see bench-*.log)")
print("| test | HIP path (shim) t/s | CUDA path t/s | HIP / CUDA | within 5 % |")
print("|---|---:|---:|---:|:---:|")
ok = True
for t in cuda:
    if t in hip:
        a, b = hip[t], cuda[t]; r = a["avg_ts"] / b["avg_ts"]; ok &= r >= 0.95
        print(f"| {t} | {a['avg_ts']:.2f} ± {a['stddev_ts']:.2f} | {b['avg_ts']:.2f} ± {b['stddev_ts']:.2f} | {r:.3f} | {'yes' if r >= 0.95 else 'NO'} |")
print("verdict:", "PASSED" if ok else "FAILED", "(HIP path within 5 % of the CUDA path)")
PY
fi
say "done"
