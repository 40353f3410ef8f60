#!/usr/bin/env bash
# Runs Unicorn's GPU engine for real on an NVIDIA machine of the `device` tool, with what
# scripts/device-pack.sh put in .device/ (carry it). One script, so every change is checked
# the same way:
#   scripts/device-gpu.sh check    test-backend-ops on UNICORN_IGPU0: every op it claims
#   scripts/device-gpu.sh peer     builds ggml-cuda (the peer) from the same llama.cpp source,
#                                  generates Gemma3n tiny and e2b Q4_K_M, measures the copy
#                                  bandwidth and the MUL_MAT perf ratios against CUDA0
#   scripts/device-gpu.sh models   (after peer on the same machine, else it redoes peer's
#                                  set-up) Gemma3n graph replays and op perf, KL divergence and
#                                  greedy text against the CPU, llama-bench against CUDA0
#   scripts/device-gpu.sh full     all three (longer than one device call allows)
#   scripts/device-gpu.sh model-part N   see below
#   scripts/device-gpu.sh profile  builds the peer and generates e2b (as peer), then Unicorn's
#                                  per-kernel GPU time on e2b (UNICORN_GPU_PROFILE), prompt and
#                                  decode; brings ggml-cuda back (xz parts) for later runs
#   scripts/device-gpu.sh compare  (after profile on the same machine, or with the peer carried)
#                                  MUL_MAT against the CPU, then e2b graph ops perf and
#                                  llama-bench, both backends, same run
#   scripts/device-gpu.sh speed    (after profile on the same machine, or with the peer carried)
#                                  test-backend-ops on every claimed op and the fusion cases,
#                                  launches per decoded e2b token, llama-bench e2b -r 5 with and
#                                  without fusion against ggml-cuda, KL divergence on tiny
# Logs and tables go to $OUT (the device tool brings them back), a summary to stdout.
set -uo pipefail
mode=${1:-check}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# model-part N: one fifth of the real Gemma 3 270M model (carried as .dmN, see device-pack.sh
# --model), appended in /tmp; the fifth part also checks the sha256 and runs the real-weights
# comparisons (greedy text and KL divergence against the CPU backend, and ggml-cuda's own).
if [ "$mode" = model-part ]; then
  n=${2:?part number}
  mkdir -p /tmp/unicorn-dev/models
  [ "$n" = 0 ] && : > /tmp/unicorn-dev/models/gemma3.part
  cat ".dm$n/part" >> /tmp/unicorn-dev/models/gemma3.part
  echo "[device] part $n: $(stat -c %s /tmp/unicorn-dev/models/gemma3.part) bytes"
  [ -f ".dm$n/sha256" ] || exit 0
  if [ "$(sha256sum /tmp/unicorn-dev/models/gemma3.part | cut -d' ' -f1)" != "$(cat ".dm$n/sha256")" ]; then
    echo "[device] gemma-3-270m: sha256 mismatch (a part missing? the machine went cold between runs?)"; exit 1
  fi
  mv /tmp/unicorn-dev/models/gemma3.part /tmp/unicorn-dev/models/gemma-3-270m-q4_k_m.gguf
  mode=gemma3
fi
OUT=${OUT:-$here/dev-out}
mkdir -p "$OUT"
cd "$here"
say() { echo "[device] $(date +%T) $*"; }

bin=$here/build/bin
if [ -d .device ]; then
  say "unpacking"
  rm -rf build && mkdir -p build
  tar xf .device/bin.tar.* -C build
  cp -r .device/unicorn-kernels build/bin/unicorn-kernels
  rm -rf /tmp/unicorn-dev/bin && mkdir -p /tmp/unicorn-dev && cp -r build/bin /tmp/unicorn-dev/bin
else # a later run on the same machine (model parts): the tools unpacked by the first
  bin=/tmp/unicorn-dev/bin
  [ -f /tmp/unicorn-dev/libggml-cuda.so ] && cp /tmp/unicorn-dev/libggml-cuda.so "$bin/"
fi
export LD_LIBRARY_PATH=$bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
unset UNICORN_EMULATE
export UNICORN_ATTN=igpu
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv,noheader | tee "$OUT/gpu.txt"

"$bin/llama-cli" --list-devices 2>&1 | tee "$OUT/devices.txt" | grep -E "UNICORN|CUDA|unicorn:" | head

# Model level: KL divergence and greedy text against the CPU backend, for Unicorn and for
# ggml-cuda (the peer's own distance from the CPU is the yardstick).
work=/tmp/unicorn-dev
kld() { # model name
  local f=$1 n=$2 text=$here/tests/data/fixed-text.txt
  "$bin/llama-perplexity" -m "$f" -f "$text" -c 128 --chunks 4 -ngl 0 -dev none -fa on \
    --kl-divergence-base "$work/$n.kld" > "$OUT/kld-$n-cpu.log" 2>&1
  for side in unicorn cuda; do
    if [ $side = unicorn ]; then a=(--backend unicorn); else a=(-dev CUDA0 -ngl 99 -fa on); fi
    "$bin/llama-perplexity" -m "$f" -f "$text" -c 128 --chunks 4 "${a[@]}" \
      --kl-divergence-base "$work/$n.kld" --kl-divergence > "$OUT/kld-$n-$side.log" 2>&1
    say "KLD $n $side vs CPU: $(grep -E 'Mean +KLD|Same top p' "$OUT/kld-$n-$side.log" | tr -s ' ' | paste -sd';')"
  done
}
tokens() { # model name
  local f=$1 n=$2 p="The three largest rivers of Europe are"
  "$bin/llama-completion" -m "$f" -p "$p" -n 48 --temp 0 --ignore-eos -no-cnv -ngl 0 -dev none -fa on 2>/dev/null > "$OUT/tok-$n-cpu.txt"
  "$bin/llama-completion" -m "$f" -p "$p" -n 48 --temp 0 --ignore-eos -no-cnv --backend unicorn 2>"$OUT/tok-$n-unicorn.log" > "$OUT/tok-$n-unicorn.txt"
  "$bin/llama-completion" -m "$f" -p "$p" -n 48 --temp 0 --ignore-eos -no-cnv -dev CUDA0 -ngl 99 -fa on 2>/dev/null > "$OUT/tok-$n-cuda.txt"
  say "greedy text $n: unicorn==cpu: $(cmp -s "$OUT/tok-$n-cpu.txt" "$OUT/tok-$n-unicorn.txt" && echo yes || echo no), cuda==cpu: $(cmp -s "$OUT/tok-$n-cpu.txt" "$OUT/tok-$n-cuda.txt" && echo yes || echo no)"
}

if [ "$mode" = gemma3 ]; then
  g3=$work/models/gemma-3-270m-q4_k_m.gguf
  kld "$g3" gemma3
  tokens "$g3" gemma3
  exit 0
fi

# 1. test-backend-ops: every op UNICORN_IGPU0 claims, against the CPU backend.
tbo() { # name, args...
  local name=$1; shift
  timeout ${TBO_TIMEOUT:-480} "$bin/test-backend-ops" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  local ok fail
  ok=$(grep -cE '^\s+[A-Z_0-9]+\(.*OK' "$OUT/$name.log")
  fail=$(grep -cE '\): .*FAIL' "$OUT/$name.log")
  # A verdict that cannot pass on nothing: the tool must exit 0, report no FAIL and run cases.
  local verdict=PASSED
  { [ "$rc" = 0 ] && [ "$fail" = 0 ] && [ "$ok" -gt 0 ]; } || verdict=FAILED
  say "$name: $verdict (rc=$rc, $ok OK, $fail FAIL)"
  grep -E '\): .*FAIL' "$OUT/$name.log" | sed -E 's/\x1b\[[0-9;]*m//g' | awk '{print $1}' | sed -E 's/\(.*//' | sort | uniq -c | head -20
}
ops=$("$bin/test-backend-ops" support -b UNICORN_IGPU0 --output csv 2>/dev/null \
  | awk -F'","' 'substr($1,2)=="UNICORN_IGPU0" && $5=="1" {print $2}' | sort -u | paste -sd, -)
say "UNICORN_IGPU0 claims: $ops"
echo "$ops" > "$OUT/claimed-ops.txt"
# llama.cpp's fusion cases (several nodes, one kernel on our side): checked with every claimed op.
fused=RMS_NORM_MUL_ADD,ADD_ADD,ADD_RMS_NORM,RELU_SQR,GELU_MUL,SILU_MUL,SIGMOID_MUL,TANH_MUL,SOFTCAP,NORM_MUL_ADD
if [ "$mode" = final ] || [ "$mode" = profile ]; then
  # One call: the correctness check runs while ggml-cuda builds and the models are generated.
  TBO_TIMEOUT=300 tbo tbo-igpu test -b UNICORN_IGPU0 -o "$ops,$fused" -j 8 &
  check_pid=$!
fi
if [ "$mode" = check ] || [ "$mode" = full ]; then
  [ -n "$ops" ] && tbo tbo-igpu test -b UNICORN_IGPU0 -o "$ops" -j 8
  # A missing and a corrupt code object: one clear line each, no device, no crash.
  mkdir -p /tmp/unicorn-bad && printf 'not a fatbin' > /tmp/unicorn-bad/unicorn-cuda.fatbin
  for k in /nonexistent /tmp/unicorn-bad; do
    UNICORN_KERNELS=$k "$bin/test-backend-ops" support -o SCALE > "$OUT/kernels-$(basename $k).log" 2>&1
    say "UNICORN_KERNELS=$k: rc=$? $(grep -m1 'unicorn:' "$OUT/kernels-$(basename $k).log")"
  done
fi
[ "$mode" = check ] && exit 0

# ---- full: the peer (ggml-cuda from the same source), models, ratios ----------------------
# Everything slow is kept in /tmp/unicorn-dev, so a second call on the same (warm) machine
# resumes instead of rebuilding.
work=/tmp/unicorn-dev
mkdir -p "$work/models"
if [ ! -d "$work/llama-src" ]; then
  mkdir -p "$work/llama-src" && tar xzf .device/llama-src.tar.gz -C "$work/llama-src"
fi
mkdir -p vendor && ln -sfn "$work/llama-src" vendor/llama.cpp   # gguf-py for gen-gemma3n.py

build_cuda() {
  [ -f "$work/libggml-cuda.so" ] && return 0
  # A build brought back from an earlier run (device-pack.sh carries it): same source, same flags.
  if ls .device/libggml-cuda.so.xz.* >/dev/null 2>&1; then
    cat .device/libggml-cuda.so.xz.* | xz -dc > "$work/libggml-cuda.so" && return 0
  fi
  cmake -S "$work/llama-src" -B "$work/cuda-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DGGML_BACKEND_DL=ON -DBUILD_SHARED_LIBS=ON -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON \
    -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF > "$work/cuda-configure.log" 2>&1 &&
  cmake --build "$work/cuda-build" -j "$(nproc)" --target ggml-cuda > "$work/cuda-build.log" 2>&1 &&
  cp "$work/cuda-build/bin/libggml-cuda.so" "$work/libggml-cuda.so" &&
  strip --strip-debug "$work/libggml-cuda.so" &&
  # brought back for later runs, in parts (a returned file is at most 16 MiB)
  xz -T0 -6 -c "$work/libggml-cuda.so" | split -b 15M - "$OUT/libggml-cuda.so.xz."
}
gen_models() {
  local g="python3 scripts/gen-gemma3n.py --tokenizer-from .device/tokenizer.gguf -q"
  [ -f "$work/models/tiny.gguf" ] || $g --preset tiny -o "$work/models/tiny.gguf"
  [ -f "$work/models/e2b-q4_k_m.gguf" ] || $g --preset e2b --quantize Q4_K_M --threads 4 \
    --llama-quantize "$bin/llama-quantize" -o "$work/models/e2b-q4_k_m.gguf"
}
# Where Unicorn's GPU time goes on e2b: per kernel, prompt (pp512) and decode (tg128) apart.
profile_e2b() {
  local t a
  for t in pp512 tg128; do
    if [ $t = pp512 ]; then a=(-p 512 -n 0); else a=(-p 0 -n 128); fi
    UNICORN_GPU_PROFILE=1 timeout 150 "$bin/llama-bench" -m "$e2b" --backend unicorn "${a[@]}" -r 2 -v > "$OUT/profile-$t.log" 2>&1
    say "profile $t (rc=$?):"
    awk '/GPU profile/ {p=1; print; next} p && /^  / {print; next} {p=0}' "$OUT/profile-$t.log" | head -45 | tee "$OUT/profile-$t.txt"
  done
}
say "ggml-cuda (build unless cached in $work) and Gemma3n tiny + e2b Q4_K_M (generated unless there), in parallel"
build_cuda & cuda_pid=$!
gen_models > "$OUT/gen-models.log" 2>&1 & gen_pid=$!
wait $gen_pid && say "models ready: $(ls "$work/models")" || { say "model generation FAILED"; tail -20 "$OUT/gen-models.log"; }
tiny=$work/models/tiny.gguf e2b=$work/models/e2b-q4_k_m.gguf
[ "$mode" = profile ] && profile_e2b   # the GPU's own times: while ggml-cuda still builds
wait $cuda_pid && cp "$work/libggml-cuda.so" "$bin/" && say "ggml-cuda ready" \
  || { say "ggml-cuda build FAILED"; tail -30 "$work/cuda-build.log"; }

# Device-to-device copy bandwidth, read + write, the ceiling for memory-bound kernels.
[ -f "$work/copy_gbps" ] || python3 - > "$work/copy_gbps" <<'PY'
import torch
n = 2 << 30
a = torch.empty(n, dtype=torch.uint8, device="cuda"); b = torch.empty_like(a)
for _ in range(3): b.copy_(a)
s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
ts = []
for _ in range(10):
    s.record(); b.copy_(a); e.record(); e.synchronize(); ts.append(s.elapsed_time(e))
ts.sort(); print(f"{2 * n / (ts[len(ts) // 2] / 1e3) / 1e9:.0f}")
PY
copy_gbps=$(cat "$work/copy_gbps")
say "device-to-device copy: ${copy_gbps} GB/s (read + write)"

# MUL_MAT perf: test-backend-ops' own perf cases (m=4096, k=14336, n = 1..8 and 512) for the
# weight types Unicorn runs, both backends, same run.
if { [ "$mode" = peer ] || [ "$mode" = full ]; } && [ -f "$bin/libggml-cuda.so" ]; then
  types='type_a=(f32|f16|bf16|q4_0|q5_0|q8_0|q4_K|q5_K|q6_K),'
  for b in UNICORN_IGPU0 CUDA0; do
    timeout 200 "$bin/test-backend-ops" perf -b $b -o MUL_MAT -p "$types" > "$OUT/perf-mul_mat-$b.log" 2>&1
  done
  python3 scripts/perf-compare.py "$OUT/perf-mul_mat-UNICORN_IGPU0.log" "$OUT/perf-mul_mat-CUDA0.log" "$copy_gbps" \
    | tee "$OUT/perf-mul_mat.md"
fi
[ "$mode" = peer ] && { say "done"; exit 0; }
if [ "$mode" = final ]; then
  wait $check_pid
  e2b=$work/models/e2b-q4_k_m.gguf
  if [ -f "$e2b" ] && [ -f "$bin/libggml-cuda.so" ]; then
    b() { timeout 150 "$bin/llama-bench" -m "$e2b" -p 512 -n 128 -r 3 -o jsonl "$@" 2>> "$OUT/bench.log"; }
    b --backend unicorn > "$OUT/bench-unicorn.jsonl"
    UNICORN_GPU_GRAPHS=0 b --backend unicorn > "$OUT/bench-unicorn-nographs.jsonl"
    b -dev CUDA0 -ngl 99 -fa 1 > "$OUT/bench-cuda.jsonl"
    python3 scripts/bench-compare.py "$OUT/bench-unicorn.jsonl" "$OUT/bench-cuda.jsonl" | tee "$OUT/bench.md"
    python3 scripts/bench-compare.py "$OUT/bench-unicorn-nographs.jsonl" "$OUT/bench-cuda.jsonl" | tee "$OUT/bench-nographs.md"
  fi
  [ -f "$tiny" ] && { kld "$tiny" tiny; tokens "$tiny" tiny; }
  [ -f "$e2b" ] && tokens "$e2b" e2b
  types='type_a=(f16|q4_0|q8_0|q4_K|q6_K),type_b=f32,m=4096,n=(1|512),'
  for b in UNICORN_IGPU0 CUDA0; do
    timeout 60 "$bin/test-backend-ops" perf -b $b -o MUL_MAT -p "$types" > "$OUT/perf-mul_mat-$b.log" 2>&1
  done
  python3 scripts/perf-compare.py "$OUT/perf-mul_mat-UNICORN_IGPU0.log" "$OUT/perf-mul_mat-CUDA0.log" "$copy_gbps" | tee "$OUT/perf-mul_mat.md"
  say "done"; exit 0
fi

if [ "$mode" = speed ]; then
  # What the fused kernels must equal: llama.cpp's fusion cases, with everything claimed.
  TBO_TIMEOUT=240 tbo tbo-igpu test -b UNICORN_IGPU0 -o "$ops,$fused" -j 8
  # Launches per decoded token: the profiler's count for 64 and 32 generated tokens, apart.
  launches() { UNICORN_GPU_PROFILE=1 timeout 120 "$bin/llama-bench" -m "$e2b" --backend unicorn -p 0 -n "$1" -r 1 -v 2>&1 \
      | awk '/GPU profile/ {for (i = 1; i <= NF; i++) if ($i == "launches,") print $(i-1)}' | tail -1; }
  l64=$(launches 64); l32=$(launches 32)
  say "launches per decoded e2b token: $(( (l64 - l32) / 32 )) (UNICORN_GPU_PROFILE, 64 vs 32 tokens: $l64 - $l32)"
  UNICORN_GPU_PROFILE=1 timeout 120 "$bin/llama-bench" -m "$e2b" --backend unicorn -p 0 -n 64 -r 1 -v > "$OUT/profile-tg.log" 2>&1
  awk '/GPU profile/ {p=1; print; next} p && /^  / {print; next} {p=0}' "$OUT/profile-tg.log" | head -30 | tee "$OUT/profile-tg.txt"
  bench() { timeout 150 "$bin/llama-bench" -m "$e2b" -p 512 -n 128 -r 5 -o jsonl "$@" 2>> "$OUT/bench.log"; }
  bench --backend unicorn > "$OUT/bench-unicorn.jsonl"
  UNICORN_GPU_FUSION=0 bench --backend unicorn > "$OUT/bench-unicorn-nofusion.jsonl"
  bench -dev CUDA0 -ngl 99 -fa 1 > "$OUT/bench-cuda.jsonl"
  say "llama-bench e2b Q4_K_M, Unicorn (fused, launch graphs) vs ggml-cuda:"
  python3 scripts/bench-compare.py "$OUT/bench-unicorn.jsonl" "$OUT/bench-cuda.jsonl" | tee "$OUT/bench.md"
  say "the same, Unicorn without fusion (UNICORN_GPU_FUSION=0):"
  python3 scripts/bench-compare.py "$OUT/bench-unicorn-nofusion.jsonl" "$OUT/bench-cuda.jsonl" | tee "$OUT/bench-nofusion.md"
  [ -f "$tiny" ] && { kld "$tiny" tiny; tokens "$tiny" tiny; }
  say "done"; exit 0
fi
pack_out() { # everything but the ggml-cuda parts into one archive: 8 files come back at most
  (cd "$OUT" && ls | grep -v '^libggml-cuda.so.xz' | tar czf /tmp/results.tar.gz -T - && ls | grep -v '^libggml-cuda.so.xz' | xargs rm -rf && mv /tmp/results.tar.gz .)
}
if [ "$mode" = profile ]; then wait $check_pid; pack_out; say "done"; exit 0; fi
if [ "$mode" = compare ]; then
  TBO_TIMEOUT=150 tbo tbo-mul_mat test -b UNICORN_IGPU0 -o MUL_MAT -j 8   # the kernels changed most often
  "$bin/test-export-graph-ops" -m "$e2b" -o "$work/e2b-ops.txt" -ot no_such_tensor=CPU > "$OUT/export-e2b.log" 2>&1
  for b in UNICORN_IGPU0 CUDA0; do
    timeout 150 "$bin/test-backend-ops" perf -b $b --test-file "$work/e2b-ops.txt" > "$OUT/perf-e2b-$b.log" 2>&1
  done
  python3 scripts/perf-compare.py "$OUT/perf-e2b-UNICORN_IGPU0.log" "$OUT/perf-e2b-CUDA0.log" "$copy_gbps" | tee "$OUT/perf-e2b.md"
  bench() { timeout 120 "$bin/llama-bench" -m "$e2b" -p 512 -n 128 -r 3 -o jsonl "$@" 2>> "$OUT/bench.log"; }
  bench --backend unicorn > "$OUT/bench-unicorn.jsonl"
  bench -dev CUDA0 -ngl 99 -fa 1 > "$OUT/bench-cuda.jsonl"
  python3 scripts/bench-compare.py "$OUT/bench-unicorn.jsonl" "$OUT/bench-cuda.jsonl" | tee "$OUT/bench.md"
  pack_out; say "done"; exit 0
fi

# Gemma3n graphs, op by op: replay on UNICORN_IGPU0 (correctness) and time both backends.
for m in tiny e2b; do
  f=$work/models/$([ $m = tiny ] && echo tiny.gguf || echo e2b-q4_k_m.gguf)
  [ -f "$f" ] || continue
  "$bin/test-export-graph-ops" -m "$f" -o "$work/$m-ops.txt" -ot no_such_tensor=CPU > "$OUT/export-$m.log" 2>&1
  tbo "replay-$m" test -b UNICORN_IGPU0 --test-file "$work/$m-ops.txt"
done
if [ -f "$work/e2b-ops.txt" ] && [ -f "$bin/libggml-cuda.so" ]; then
  for b in UNICORN_IGPU0 CUDA0; do
    timeout 300 "$bin/test-backend-ops" perf -b $b --test-file "$work/e2b-ops.txt" > "$OUT/perf-e2b-$b.log" 2>&1
  done
  python3 scripts/perf-compare.py "$OUT/perf-e2b-UNICORN_IGPU0.log" "$OUT/perf-e2b-CUDA0.log" "$copy_gbps" \
    | tee "$OUT/perf-e2b.md"
fi

# Model level: KL divergence and greedy tokens against the CPU backend (and the peer's own).
[ -f "$tiny" ] && { kld "$tiny" tiny; tokens "$tiny" tiny; }

# End to end: llama-bench on the generated e2b Q4_K_M, Unicorn (every op on the GPU engine)
# against ggml-cuda, same machine, same run.
if [ -f "$e2b" ] && [ -f "$bin/libggml-cuda.so" ]; then
  "$bin/llama-bench" -m "$e2b" --backend unicorn -p 512 -n 128 -r 3 -o jsonl > "$OUT/bench-unicorn.jsonl" 2> "$OUT/bench-unicorn.log"
  "$bin/llama-bench" -m "$e2b" -dev CUDA0 -ngl 99 -fa 1 -p 512 -n 128 -r 3 -o jsonl > "$OUT/bench-cuda.jsonl" 2> "$OUT/bench-cuda.log"
  python3 scripts/bench-compare.py "$OUT/bench-unicorn.jsonl" "$OUT/bench-cuda.jsonl" | tee "$OUT/bench.md"
fi
say "done"
