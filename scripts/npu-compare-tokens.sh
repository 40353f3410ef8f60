#!/usr/bin/env bash
# Greedy tokens through --backend unicorn with the emulated NPU on the aie-host path (the AIE
# kernel's host build: bf16 attention) against the CPU backend, as the integration tests pin it
# (reference kernels, no repacking, bf16 KV cache, flash attention). Prints, per model, how many
# of the first N generated tokens agree.
#   scripts/npu-compare-tokens.sh [N] [model.gguf ...]   (default: 64; gemma-3-270m and the
#                                                         generated Gemma3n tiny from the cache)
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UNICORN_CACHE=${UNICORN_CACHE:-$HOME/.cache/unicorn}
n=${1:-64}; shift || true
models=("$@")
if [ ${#models[@]} -eq 0 ]; then
  models=("$UNICORN_CACHE"/model/gemma-3-270m-q4_k_m.gguf)
  tiny=$(ls "$UNICORN_CACHE"/model/gemma3n-tiny-*.gguf 2>/dev/null | head -1)
  [ -n "$tiny" ] && models+=("$tiny")
fi
prompt="The capital of France is Paris, and the capital of Germany is"
common=(-p "$prompt" -n "$n" --temp 0 -no-cnv -c 512 --ignore-eos -t 2 -fit off -nr --no-display-prompt)
rc=0
for m in "${models[@]}"; do
  cpu=$(GGML_CPU_USE_REF=1 "$here/build/bin/llama-completion" -m "$m" "${common[@]}" \
          -ngl 0 -fa on -ctk bf16 -ctv bf16 -dev none 2>/dev/null)
  npu=$(GGML_CPU_USE_REF=1 UNICORN_EMULATE=1 UNICORN_NPU_EMULATION=aie-host UNICORN_ATTN=npu \
          "$here/build/bin/llama-completion" -m "$m" "${common[@]}" --backend unicorn 2>/dev/null)
  python3 - "$m" "$cpu" "$npu" <<'PY' || rc=1
import sys
name, a, b = sys.argv[1].rsplit("/", 1)[-1], sys.argv[2], sys.argv[3]
same = 0
while same < min(len(a), len(b)) and a[same] == b[same]:
    same += 1
verdict = "identical" if a == b else f"first difference at character {same} of {max(len(a), len(b))}"
print(f"{name}: aie-host vs CPU: {verdict}")
print(f"  CPU     : {a[:160]!r}")
print(f"  aie-host: {b[:160]!r}")
PY
done
exit $rc
