#!/usr/bin/env bash
# Mutation check: does the test suite notice a one-ulp error in a reference kernel?
#
#   scripts/mutation-check.sh [OP ...]        (default: MUL_MAT FLASH_ATTN_EXT ROPE)
#   scripts/mutation-check.sh NONE            (control: the same stages, nothing mutated;
#                                             a test failing here fails for another reason)
#
# For each OP, a copy of the committed tree (git archive HEAD, in $UNICORN_MUTANT_DIR, default
# /tmp/unicorn-mutants/<OP>) gets one deliberate change in that op's CPU reference kernel
# (backend/unicorn/src/ops/<op>.rs): every value the kernel writes to dst is moved by one ulp
# (f32::from_bits(v.to_bits() + 1): one step away from zero). Nothing in the work tree changes.
# The copy's plugin is built, laid out beside the cached llama.cpp tools, and judged by:
#   1. the Rust unit tests (cargo test --release -p unicorn),
#   2. test-backend-ops test on the op's device, for that op only: with upstream's error bounds
#      (tbo), and as scripts/test-backend-ops.sh runs it, exact against ggml-cpu's reference
#      kernels for the CPU reference engine (tbo-exact, patches/0007),
#   3. the integration tests (tests/integration, without test_reliability, whose runs stop
#      before any token is computed, the generator's argument checks and the server load
#      test, which takes minutes and compares only isolated answers).
# A stage "catches" the mutant when it fails. Prints one table; exits 1 if some mutant was
# caught by no stage (a check that catches nothing is the finding). Needs scripts/setup-llama.sh
# run first (the llama.cpp build is reused from the cache). Takes 15-30 min per op on 2 cores.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ops=("$@"); [ ${#ops[@]} -gt 0 ] || ops=(MUL_MAT FLASH_ATTN_EXT ROPE)
root=${UNICORN_MUTANT_DIR:-/tmp/unicorn-mutants}
llama_root=$(cat "$here/build/llama-root" 2>/dev/null) || { echo "run scripts/setup-llama.sh first" >&2; exit 2; }
limit=${UNICORN_MUTANT_TIMEOUT:-2400}   # seconds per stage

# OP -> source file, the device that claims it, and the edit (python: exact text -> replacement;
# the edit fails loudly if the kernel's text moved, so the check cannot silently test nothing).
declare -A FILE=([MUL_MAT]=mul_mat.rs [FLASH_ATTN_EXT]=flash_attn_ext.rs [ROPE]=rope.rs [NONE]=mod.rs)
declare -A DEV=([MUL_MAT]=UNICORN_IGPU0 [FLASH_ATTN_EXT]=UNICORN_NPU0 [ROPE]=UNICORN_IGPU0 [NONE]=UNICORN_IGPU0)
mutate() {  # $1 = OP, $2 = file
  python3 - "$1" "$2" <<'EOF'
import sys
op, path = sys.argv[1], sys.argv[2]
ULP = "f32::from_bits(({}).to_bits() + 1)"
edits = {
    "NONE": [],
    # every output element passes through DisjointRows::write (vec_dot and tinyBLAS paths)
    "MUL_MAT": [("unsafe { self.ptr.add(i).write(v) }", "unsafe { self.ptr.add(i).write(" + ULP.format("v") + ") }")],
    # the normalised output row
    "FLASH_ATTN_EXT": [("*o = x * inv", "*o = " + ULP.format("x * inv"))],
    # both rotated values of each pair (dims past n_dims are copied, unchanged)
    "ROPE": [("out[ic] = x0.mul_add(c, -(x1 * s));", "out[ic] = " + ULP.format("x0.mul_add(c, -(x1 * s))") + ";"),
             ("out[ic + pair] = x0.mul_add(s, x1 * c);", "out[ic + pair] = " + ULP.format("x0.mul_add(s, x1 * c)") + ";")],
}[op]
src = open(path).read()
for old, new in edits:
    if src.count(old) != 1:
        sys.exit(f"mutation-check: {path}: expected exactly one '{old}', found {src.count(old)}")
    src = src.replace(old, new)
open(path, "w").write(src)
print(f"mutated {path}: " + "; ".join(new for _, new in edits) if edits else "control: nothing mutated")
EOF
}

declare -A RESULT
for op in "${ops[@]}"; do
  [ -n "${FILE[$op]:-}" ] || { echo "mutation-check: no mutation defined for $op" >&2; exit 2; }
  dir=$root/$op
  echo "=== $op: mutant in $dir"
  rm -rf "$dir"; mkdir -p "$dir"
  git -C "$here" archive HEAD | tar -x -C "$dir"
  mutate "$op" "$dir/backend/unicorn/src/ops/${FILE[$op]}" || exit 2
  mkdir -p "$dir/vendor" "$dir/build/bin"
  ln -sfn "$llama_root/src" "$dir/vendor/llama.cpp"
  for f in "$llama_root"/build/bin/*; do [ -f "$f" ] && ln -f "$f" "$dir/build/bin/" 2>/dev/null || cp -p "$f" "$dir/build/bin/"; done
  echo "$llama_root" > "$dir/build/llama-root"
  # a private target dir, seeded with the work tree's (dependencies are reused, not rebuilt)
  [ -d "$dir/target" ] || { mkdir -p "$dir/target"; [ -d "$here/target/release" ] && cp -a "$here/target/release" "$dir/target/"; }
  (cd "$dir" && cargo build --release --quiet -p unicorn) || { echo "mutation-check: $op mutant does not build"; exit 2; }
  cp "$dir/target/release/libggml_unicorn.so" "$dir/build/bin/libggml-unicorn.so"

  log=$dir/stages.log; : > "$log"
  # 1. Rust unit tests
  (cd "$dir" && timeout "$limit" cargo test --release -q -p unicorn) > "$dir/cargo-test.log" 2>&1
  rc=$?
  failed=$(grep -E '^    [a-z_:0-9]+$' "$dir/cargo-test.log" | sed 's/^ *//' | paste -sd' ' -)
  RESULT[$op,rust]=$([ $rc = 0 ] && echo "not caught" || echo "CAUGHT (exit $rc: ${failed:-see cargo-test.log})")
  # 2. test-backend-ops, the op alone
  tbo_op=$op; [ "$op" = NONE ] && tbo_op=SCALE
  (cd "$dir" && UNICORN_EMULATE=1 timeout "$limit" build/bin/test-backend-ops test -b "${DEV[$op]}" -o "$tbo_op" -j "$(nproc)") \
    > "$dir/test-backend-ops.log" 2>&1
  rc=$?
  summary=$(grep -E '^ +[0-9]+/[0-9]+ tests passed' "$dir/test-backend-ops.log" | tail -1 | sed 's/^ *//')
  RESULT[$op,tbo]=$([ $rc = 0 ] && echo "not caught ($summary)" || echo "CAUGHT (exit $rc, $summary)")
  (cd "$dir" && UNICORN_EMULATE=1 UNICORN_TBO_TIMEOUT=$limit bash scripts/test-backend-ops.sh "${DEV[$op]}" -o "$tbo_op") \
    > "$dir/test-backend-ops-exact.log" 2>&1
  rc=$?
  RESULT[$op,tbo-exact]="$([ $rc = 0 ] && echo "not caught" || echo "CAUGHT"): $(tail -1 "$dir/test-backend-ops-exact.log")"
  # 3. integration tests
  (cd "$dir" && timeout "$limit" python3 -m pytest tests/integration -q -p no:cacheprovider \
     --ignore=tests/integration/test_reliability.py --ignore=tests/integration/test_server_load.py \
     -k "not generator_rejects" \
     --junitxml="$dir/pytest.xml") > "$dir/pytest.log" 2>&1
  rc=$?
  caught=$(python3 - "$dir/pytest.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
cases = ET.parse(sys.argv[1]).getroot().iter("testcase")
bad = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
print(" ".join(bad))
EOF
)
  total=$(grep -oE '[0-9]+ (passed|failed|error)' "$dir/pytest.log" | tail -3 | paste -sd, -)
  RESULT[$op,pytest]=$([ $rc = 0 ] && echo "not caught ($total)" || echo "CAUGHT ($total): ${caught:-see pytest.log}")
  for st in rust tbo tbo-exact pytest; do echo "  $op $st: ${RESULT[$op,$st]}"; done
done

echo
echo "mutation check (one ulp on every value the reference kernel writes):"
missed=0
for op in "${ops[@]}"; do
  any=0
  for st in rust tbo tbo-exact pytest; do
    printf '  %-15s %-9s %s\n' "$op" "$st" "${RESULT[$op,$st]}"
    [[ ${RESULT[$op,$st]} == CAUGHT* ]] && any=1
  done
  [ "$op" = NONE ] && continue  # the control: every stage should pass
  [ $any = 1 ] || { echo "  $op: NOT CAUGHT BY ANY STAGE"; missed=1; }
done
exit $missed
