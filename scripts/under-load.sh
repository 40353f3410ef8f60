#!/usr/bin/env bash
# Run a command while every core is kept busy by another process, the way a loaded CI machine
# or a busy user box is: reliability checks (lost log lines, timeouts, races) must hold there.
#
#   scripts/under-load.sh [-w WORKERS] [-m MAX_SECONDS] [-n RUNS] -- COMMAND [ARGS...]
#
#   -w WORKERS      busy processes (default: nproc), at the same priority as the command
#   -m MAX_SECONDS  hard bound on the load (default 3600): each busy process is started under
#                   `timeout`, so none outlives it even if this script is killed with SIGKILL
#   -n RUNS         run COMMAND RUNS times in a row (default 1), under the same load
#
# Prints one line per run ("under-load: run i/N: exit S in T s") and a last line
# "under-load: P of N runs passed (W busy workers)". Exits 0 only if every run exited 0.
# The load is measured, not assumed: each run's line gives the CPU the busy workers got.
set -uo pipefail

workers=$(nproc)
max=3600
runs=1
while [ $# -gt 0 ]; do
  case $1 in
    -w) workers=$2; shift 2 ;;
    -m) max=$2; shift 2 ;;
    -n) runs=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "under-load: unknown option $1 (usage: under-load.sh [-w N] [-m S] [-n RUNS] -- CMD...)" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "under-load: no command given" >&2; exit 2; }

pids=()
stop_load() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  pids=()
}
trap stop_load EXIT
trap 'stop_load; exit 130' INT TERM

for _ in $(seq "$workers"); do
  timeout "$max" bash -c 'while :; do :; done' &
  pids+=($!)
done

# CPU time the workers got, from /proc/<pid>/stat (utime+stime, clock ticks), summed over the
# timeout wrappers' children.
worker_ticks() {
  local t=0 p c
  for p in "${pids[@]}"; do
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
      t=$((t + $(awk '{print $14 + $15}' /proc/"$c"/stat 2>/dev/null || echo 0)))
    done
  done
  echo "$t"
}

ok=0
hz=$(getconf CLK_TCK)
for i in $(seq "$runs"); do
  t0=$(date +%s.%N); w0=$(worker_ticks)
  "$@"
  rc=$?
  t1=$(date +%s.%N); w1=$(worker_ticks)
  share=$(awk -v a="$w0" -v b="$w1" -v t0="$t0" -v t1="$t1" -v hz="$hz" -v n="$workers" \
    'BEGIN { d = t1 - t0; printf "%.0f", (d > 0 ? 100 * (b - a) / hz / d : 0) }')
  echo "under-load: run $i/$runs: exit $rc in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s;" \
       "the busy workers used ${share}% CPU meanwhile (100% = one core)"
  [ "$rc" = 0 ] && ok=$((ok + 1))
done
echo "under-load: $ok of $runs runs passed ($workers busy workers)"
[ "$ok" = "$runs" ]
