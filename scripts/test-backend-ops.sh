#!/usr/bin/env bash
# llama.cpp's own test suite as the outside judge: every case of every op a Unicorn device
# claims, run on that device and on the CPU backend, compared by normalised MSE.
#
# The claimed ops are not listed here: `test-backend-ops support` asks the device itself
# (its supports_op) about every case, and every op with at least one supported case is then
# run in `test` mode. A claimed op cannot be left out.
#   scripts/test-backend-ops.sh DEVICE [extra test-backend-ops args]
# UNICORN_TBO_JOBS: parallel workers (default nproc); UNICORN_TBO_TIMEOUT: seconds each
# test-backend-ops call may run (default 3600; a hang is a failure, not a wait).
#
# Exactness: test-backend-ops compares with ggml-cpu's reference kernels, which a device run by
# Unicorn's CPU reference engine reproduces bit for bit. The plugin says which devices do, one
# line per device when it registers them: "unicorn: DEV: numerics: exact ..." or "... bounded"
# (Device::exact). For an exact device every case must be equal (error bound 0, patches/0007),
# except the cases named in EXACT_EXCEPT, where the reference engine is measured not to be
# exact; those keep test-backend-ops' own bounds. Bounded devices (hardware engines, the NPU's
# aie-host emulation) keep the upstream bounds. No such line: no verdict (a failure). Override
# with UNICORN_TBO_MAX_ERR (a bound) and UNICORN_TBO_EXACT_EXCEPT (a regex over "OP(vars)").
#
# Floors: tests/floors/test-backend-ops.tsv holds, per device, numerics and op, the number of
# cases the device claimed (`support` mode) when it was committed; every claimed case is then
# run and must pass. A whole run (no extra arguments) with fewer claimed cases of an op than its
# floor fails (an op a device stopped claiming, a type dropped from a claim); an emulated run
# (UNICORN_EMULATE=1, what CI runs; floors are for the emulated devices) must have floors for
# the numerics each device reports. More cases pass and say which floors to raise:
# a new claim raises them in the same commit (UNICORN_TBO_WRITE_FLOORS=1 rewrites this device's
# rows from the support query and stops). UNICORN_TBO_FLOORS names another file.
#
# Verdict (last line): passes only if the tool exits 0, its own "N/M tests passed" line says
# N = M > 0, N equals the OK lines counted here, and no case line says FAIL. A case that fails
# to allocate prints no FAIL line of its own; the tool's N/M and its "Failing tests" list
# still count it, and are printed.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dev=${1:?usage: test-backend-ops.sh DEVICE [test-backend-ops args]}; shift
bin=$here/build/bin
jobs=${UNICORN_TBO_JOBS:-$(nproc)}
limit=${UNICORN_TBO_TIMEOUT:-3600}
floors=${UNICORN_TBO_FLOORS:-$here/tests/floors/test-backend-ops.tsv}
whole_run=$([ $# = 0 ] && echo 1 || echo 0)

log=$(mktemp); support=$(mktemp); trap 'rm -f "$log" "$support"' EXIT

# timeout: 124 after $limit s (SIGTERM), SIGKILL 30 s later if still alive.
bounded() { timeout -k 30 "$limit" "$@"; }
explain() {  # exit status of a bounded call, in words
  case $1 in
    124|137) echo "timed out after $limit s (UNICORN_TBO_TIMEOUT) and was killed" ;;
    *) if [ "$1" -gt 128 ]; then echo "killed by signal $(($1 - 128))"; else echo "exit $1"; fi ;;
  esac
}

bounded "$bin/test-backend-ops" support -b "$dev" --output csv > "$support" 2>&1
rc=$?
if [ "$rc" != 0 ]; then
  echo "test-backend-ops support -b $dev: $(explain "$rc")"; tail -20 "$support"
  echo "test-backend-ops $dev: no verdict (support query failed)"; exit 1
fi
ops=$(awk -F'","' -v d="$dev" 'substr($1,2)==d && $5=="1" {print $2}' "$support" | sort -u | paste -sd, -)

# Not exact, measured on the emulated devices (NMSE against ggml-cpu's reference, 2026-11-23):
# GELU_QUICK and GEGLU_QUICK about 5e-8; SILU, SWIGLU, GELU_ERF, GEGLU_ERF below 1e-9 but not 0
# (exp/erf evaluated differently); ROPE with YaRN extrapolation (ext_factor != 0);
# FLASH_ATTN_EXT with an F16 V (ggml-cpu accumulates V*softmax in F16, the reference in F32:
# up to 3e-4) or with attention sinks (below 1e-9). Every other case: 0. The Gemma models run
# none of these (BF16 KV cache, no sinks, GELU with tanh, plain RoPE).
EXACT_EXCEPT='^(GELU_QUICK|GEGLU_QUICK|SILU|SWIGLU|GELU_ERF|GEGLU_ERF)\(|^ROPE\(.*,ef=0\.[0-9]*[1-9]'
EXACT_EXCEPT+='|^FLASH_ATTN_EXT\(.*(,sinks=1,|,type_V=f16,)'
# SILU_MUL: SILU's own exception, inside llama.cpp's fused SILU+MUL case.
EXACT_EXCEPT+='|^SILU_MUL\('

numerics=$(sed -nE "s/^unicorn: $dev: numerics: ([a-z]+).*/\1/p" "$support" | head -1)
if [ -z "$numerics" ]; then
  grep -E "^unicorn: " "$support" | head -10
  echo "test-backend-ops $dev: no verdict (the plugin reported no 'unicorn: $dev: numerics: exact|bounded' line)"
  exit 1
fi
if [ "$numerics" = exact ]; then
  export GGML_TEST_MAX_ERR=${UNICORN_TBO_MAX_ERR:-0}
  export GGML_TEST_MAX_ERR_EXCEPT=${UNICORN_TBO_EXACT_EXCEPT:-$EXACT_EXCEPT}
  echo "test-backend-ops: $dev runs on the CPU reference engine: every case must equal ggml-cpu's" \
       "reference (error bound $GGML_TEST_MAX_ERR) except those matching $GGML_TEST_MAX_ERR_EXCEPT"
else
  echo "test-backend-ops: $dev reports numerics '$numerics': test-backend-ops' own error bounds"
fi
if [ -z "$ops" ]; then
  echo "test-backend-ops: $dev claims no op (is UNICORN_EMULATE=1 set?)"; exit 1
fi

# Floors (see the header): claimed cases per op against the committed counts for (dev, numerics).
floor_why=()
per_op=$(awk -F'","' -v d="$dev" 'substr($1,2)==d && $5=="1" {n[$2]++} END {for (o in n) print o, n[o]}' "$support" | sort)
if [ "$whole_run" = 1 ] && [ "${UNICORN_TBO_WRITE_FLOORS:-0}" = 1 ]; then
  { grep -v -P "^\Q$dev\E\t\Q$numerics\E\t" "$floors" 2>/dev/null
    printf '%s\n' "$per_op" | awk -v d="$dev" -v m="$numerics" 'NF {print d "\t" m "\t" $1 "\t" $2}'
  } > "$floors.tmp" && mv "$floors.tmp" "$floors"
  echo "test-backend-ops: floors for $dev ($numerics) written to $floors"; exit 0
elif [ "${UNICORN_EMULATE:-0}" != 1 ]; then
  echo "test-backend-ops: not emulated: the floors (for the emulated devices) are not checked"
elif [ "$whole_run" = 1 ]; then
  rows=$(awk -F'\t' -v d="$dev" -v m="$numerics" '$1 == d && $2 == m {print $3, $4}' "$floors" 2>/dev/null)
  [ -n "$rows" ] || floor_why+=("no committed floors for $dev ($numerics) in $floors")
  while read -r op floor; do
    [ -n "$op" ] || continue
    got=$(printf '%s\n' "$per_op" | awk -v o="$op" '$1 == o {print $2}'); got=${got:-0}
    if [ "$got" -lt "$floor" ]; then
      floor_why+=("$op: $got cases, below its floor $floor")
    elif [ "$got" -gt "$floor" ]; then
      echo "test-backend-ops: $dev $op: $got cases, above its floor $floor: raise it in $floors in this commit"
    fi
  done <<< "$rows"
  while read -r op got; do
    [ -n "$op" ] || continue
    printf '%s\n' "$rows" | awk -v o="$op" '$1 == o {f=1} END {exit !f}' \
      || echo "test-backend-ops: $dev $op: $got cases and no floor: add it to $floors in this commit"
  done <<< "$per_op"
  [ -z "$rows" ] || echo "test-backend-ops: $dev ($numerics): case counts checked against $(printf '%s\n' "$rows" | wc -l) floors in $floors"
else
  echo "test-backend-ops: a partial run (arguments $*): floors not checked"
fi
echo "test-backend-ops: $dev claims: $ops"

# The iGPU fuses runs of element-wise nodes (engine/fuse.rs, on the emulated device too), which
# the support listing (one op a case) does not show: llama.cpp's fusion cases run them.
[ "$dev" = UNICORN_IGPU0 ] && ops+=,RMS_NORM_MUL_ADD,ADD_ADD,ADD_RMS_NORM,RELU_SQR,GELU_MUL,SILU_MUL,SIGMOID_MUL,SOFTCAP
bounded "$bin/test-backend-ops" test -b "$dev" -o "$ops" -j "$jobs" "$@" > "$log" 2>&1
rc=$?

# Case lines end in OK or FAIL (colour codes removed); the op is the first NAME( on the line
# (a FAIL line may start with "[OP] NMSE = ..." or "[OP] NaN at index ...").
cases=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | awk '
  /\): .*(OK|FAIL)[[:space:]]*$/ && match($0, /[A-Z][A-Z_0-9]*\(/) {
    st = ($0 ~ /FAIL[[:space:]]*$/) ? "FAIL" : "OK"
    print substr($0, RSTART, RLENGTH - 1), st
  }')
printf '%s\n' "$cases" | awk 'NF' | sort | uniq -c | awk '{printf "  %-16s %6d %s\n", $2, $1, $3}'
passed=$(printf '%s\n' "$cases" | awk '$2 == "OK"' | wc -l)
failed=$(printf '%s\n' "$cases" | awk '$2 == "FAIL"' | wc -l)
sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'FAIL' | head -20
sed -n '/^Failing tests:/,/^$/p' "$log" | head -30
summary=$(grep -E '^ +[0-9]+/[0-9]+ tests passed' "$log" | tail -1)
grep -E 'tests passed|backends passed' "$log"
n_ok=$(echo "$summary" | sed -E 's#^ *([0-9]+)/([0-9]+).*#\1#')
n_all=$(echo "$summary" | sed -E 's#^ *([0-9]+)/([0-9]+).*#\2#')

verdict=ok why=()
[ "$rc" = 0 ] || { verdict=FAILED; why+=("test-backend-ops $(explain "$rc")"); }
if [ -z "$summary" ]; then verdict=FAILED; why+=("no 'N/M tests passed' line")
else
  [ "$n_ok" = "$n_all" ] || { verdict=FAILED; why+=("the tool counts $n_ok of $n_all cases passed"); }
  [ "$n_ok" = "$passed" ] || { verdict=FAILED; why+=("the tool counts $n_ok passed, $passed OK lines here"); }
fi
[ "$failed" = 0 ] || { verdict=FAILED; why+=("$failed FAIL lines"); }
[ "$passed" -gt 0 ] || { verdict=FAILED; why+=("no case passed"); }
[ ${#floor_why[@]} = 0 ] || { verdict=FAILED; why+=("${floor_why[@]}"); }


[ "$verdict" = ok ] || { echo "--- last lines of the log ---"; tail -15 "$log"; }
reasons=$(printf '; %s' "${why[@]}"); reasons=${reasons#; }
echo "test-backend-ops $dev (emulated: ${UNICORN_EMULATE:-0}): $passed cases passed, $failed failed" \
     "(tool: ${n_ok:-?}/${n_all:-?})${reasons:+: $reasons}"
[ "$verdict" = ok ]
