#!/usr/bin/env bash
# llama.cpp's own test suite as the outside judge: every case of every op a Unicorn device
# claims, run on that device and on the CPU backend, compared by normalised MSE.
#
# The claimed ops are not listed here: `test-backend-ops support` asks the device itself
# (its supports_op) about every case, and every op with at least one supported case is then
# run in `test` mode. A claimed op cannot be left out.
#   scripts/test-backend-ops.sh DEVICE [extra test-backend-ops args]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dev=$1; shift
bin=$here/build/bin
jobs=${UNICORN_TBO_JOBS:-$(nproc)}

ops=$("$bin/test-backend-ops" support -b "$dev" --output csv 2>/dev/null \
  | awk -F'","' -v d="$dev" 'substr($1,2)==d && $5=="1" {print $2}' | sort -u | paste -sd, -)
if [ -z "$ops" ]; then
  echo "test-backend-ops: $dev claims no op (is UNICORN_EMULATE=1 set?)"; exit 1
fi
echo "test-backend-ops: $dev claims: $ops"
log=$(mktemp); trap 'rm -f "$log"' EXIT
set +e
"$bin/test-backend-ops" test -b "$dev" -o "$ops" -j "$jobs" "$@" > "$log" 2>&1
rc=$?
set -e
# Per-op case counts, then the suite's own verdict lines.
grep -E '^\s+[A-Z_0-9]+\(' "$log" | grep -v 'not supported' \
  | sed -E 's/^\s+([A-Z_0-9]+)\(.*(OK|FAIL).*$/\1 \2/' | sort | uniq -c \
  | awk '{printf "  %-16s %6d %s\n", $2, $1, $3}'
grep -E '\): .*FAIL' "$log" | head -20 || true
grep -E 'tests passed|backends passed' "$log" || true
passed=$(grep -cE '^\s+[A-Z_0-9]+\(.*OK' "$log" || true)
failed=$(grep -cE '\): .*FAIL' "$log" || true)
echo "test-backend-ops $dev (emulated: ${UNICORN_EMULATE:-0}): $passed cases passed, $failed failed"
[ "$rc" = 0 ] && [ "$failed" = 0 ] && [ "$passed" -gt 0 ]
