#!/usr/bin/env bash
# The GPU kernels' source, tested on the CPU: every kernel of kernels/hip/unicorn.cu that has
# cases in tests/kernels/ is compiled for the host against an emulation of GPU threads
# (tests/kernels/emu/: blocks of fibers with real barriers and warp shuffles), run on seeded
# random inputs with the launch geometry and args the Rust side uses, and compared with
# ggml-cpu by normalised MSE at test-backend-ops' per-op thresholds. It checks the kernels'
# logic, not the GPU compilers or hardware (scripts/build-kernels.sh compiles them for real).
#
# Two builds of the same source, as the two GPU compilers see it:
#   sm_90    the CUDA spelling, sm_70+ paths (nvcuda::wmma, dp4a), kernels built by g++
#   gfx1103  the HIP spelling, RDNA3 paths (WMMA and sudot4 builtins), kernels built by
#            clang-17 in the hipcc root of scripts/setup-gpu-toolchains.sh (through chroot)
#
#   scripts/test-kernels-cpu.sh [-v] [-k SUBSTRING]
#
# -v prints a line per case, -k runs the cases whose "op: name" contains SUBSTRING.
# UNICORN_KERNELS_CPU_GFX1103=0 skips the gfx1103 build (it then does not count as run).
# Also fails (one failure) when the Rust code a case file mirrors (its "kt-mirrors" lines: the
# op's select() and gpu()) changed since tests/kernels/mirrors.lock was written: see mirrors.py.
# Needs llama.cpp built (build/bin: libggml-base, libggml-cpu; headers in vendor/llama.cpp,
# both from scripts/setup-llama.sh) and g++. Prints a table per build and ends with
# "kernels-cpu: N passed, N failed" over both; exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$here/build/kernels-cpu
say() { echo "[kernels-cpu] $*" >&2; }
fail_early() { say "$*"; echo "kernels-cpu: 0 passed, 1 failed"; exit 1; }

for f in "$here/build/bin/libggml-cpu.so" "$here/build/bin/libggml-base.so" "$here/vendor/llama.cpp/ggml/include/ggml.h"; do
  [ -e "$f" ] || fail_early "missing $f: build llama.cpp first (scripts/setup-llama.sh)"
done

# The op files the kernels' translation unit includes, and which of them have cases.
ops=() missing=() have=()
while read -r op; do
  if [ -f "$here/tests/kernels/$op.cpp" ]; then ops+=("$op"); have+=("-DUCN_EMU_HAVE_${op^^}"); else missing+=("$op"); fi
done < <(sed -n 's/^#include "\([a-z0-9_]*\)\.cu".*/\1/p' "$here/kernels/hip/unicorn.cu")
for f in "$here"/tests/kernels/*.cpp; do
  op=$(basename "$f" .cpp)
  case $op in harness | kernels) continue ;; esac
  grep -q "^#include \"$op\\.cu\"" "$here/kernels/hip/unicorn.cu" \
    || say "$op: cases written, kernels/hip/$op.cu not in unicorn.cu yet: not built"
done
[ ${#missing[@]} -eq 0 ] || say "no cases yet for: ${missing[*]}"
mkdir -p "$build/gfx1103"
exec 8>"$build/.lock"
flock 8 # one run at a time in this tree (its builds share $build)

# --- the gfx1103 kernels object (clang-17 in the hipcc root), in the background -----------
gfx=${UNICORN_KERNELS_CPU_GFX1103:-1}
gfx_log=$build/gfx1103/build.log gfx_pid=
build_gfx1103() {
  local toolchains key hwork hdir rc=0
  toolchains=$(bash "$here/scripts/setup-gpu-toolchains.sh" hip) || { echo "hipcc root set-up failed"; return 1; }
  eval "$toolchains"
  local flags=(-std=c++17 -O1 -ffp-contract=off -fno-strict-aliasing -Wall -Wno-unknown-pragmas -Wno-unused-function
    -Wno-unused-variable -Wno-psabi -Iemu -I../../kernels/hip -D__HIP_PLATFORM_AMD__ -D__HIP_DEVICE_COMPILE__
    -D__gfx1103__ -D__GFX11__ "${have[@]}" -include emu/hip/hip_runtime.h)
  key=$( (cd "$here" && cat kernels/hip/* tests/kernels/kernels.cpp tests/kernels/kernels.h tests/kernels/emu/*.h \
    tests/kernels/emu/hip/*; echo "${flags[*]}") | sha256sum | cut -c1-16)
  if [ -f "$build/gfx1103/kernels.o" ] && [ "$(cat "$build/gfx1103/key" 2>/dev/null)" = "$key" ]; then
    return 0
  fi
  if [ "$(id -u)" = 0 ]; then chroot_cmd=(chroot)
  elif unshare -r true 2>/dev/null; then chroot_cmd=(unshare -r chroot)
  else chroot_cmd=(sudo chroot); fi
  hwork=$(mktemp -d -p "$UCN_HIP_ROOT/tmp" kernels-cpu.XXXXXX)
  hdir=/tmp/$(basename "$hwork")
  mkdir -p "$hwork/kernels" "$hwork/tests/kernels"
  cp -a "$here/kernels/hip" "$hwork/kernels/hip"
  cp -a "$here/tests/kernels/kernels.cpp" "$here/tests/kernels/kernels.h" "$here/tests/kernels/emu" "$hwork/tests/kernels/"
  "${chroot_cmd[@]}" "$UCN_HIP_ROOT" /usr/bin/env -i PATH=/usr/bin:/bin LC_ALL=C.UTF-8 HOME=/tmp \
    /bin/sh -c 'cd "$0" && exec "$@"' "$hdir/tests/kernels" nice -n 10 clang++-17 "${flags[@]}" -c kernels.cpp -o kernels.o || rc=$?
  [ $rc = 0 ] && cp "$hwork/tests/kernels/kernels.o" "$build/gfx1103/kernels.o" && echo "$key" > "$build/gfx1103/key"
  rm -rf "$hwork"
  return $rc
}
if [ "$gfx" = 1 ]; then
  build_gfx1103 > "$gfx_log" 2>&1 &
  gfx_pid=$!
fi

# --- the sm_90 build (g++), then the gfx1103 link ------------------------------------------
start=$(date +%s)
mk=(nice -n 10 make -s -C "$here/tests/kernels" -j "$(nproc)" B="$build" GGML="$here/vendor/llama.cpp"
  LIBDIR="$here/build/bin" OPS="${ops[*]}")
"${mk[@]}" "$build/kernels-cpu" >&2 || { [ -z "$gfx_pid" ] || wait "$gfx_pid" || true; fail_early "build failed (sm_90)"; }
gfx_ok=1
if [ -n "$gfx_pid" ]; then
  if wait "$gfx_pid" && "${mk[@]}" "$build/kernels-cpu-gfx1103" >&2; then :; else
    gfx_ok=0
    cat "$gfx_log" >&2
    say "build failed (gfx1103)"
  fi
fi
say "built in $(( $(date +%s) - start )) s"

# --- run ------------------------------------------------------------------------------------
passed=0 failed=0
# The case files mirror the Rust select()/gpu() of their op: a change there must reach them.
python3 "$here/tests/kernels/mirrors.py" check || failed=$((failed + 1))
run() { # NAME BINARY TITLE [ARGS...]
  echo "== $1: $3"
  local log=$build/$1.log line
  nice -n 10 "$2" -j "$(nproc)" --name "$1" "${@:4}" > "$log" 2>&1 || true
  cat "$log"
  line=$(sed -n "s/^kernels-cpu $1: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p" "$log")
  if [ -z "$line" ]; then failed=$((failed + 1)); say "$1: no result line"; return; fi
  passed=$((passed + ${line% *})); failed=$((failed + ${line#* }))
}
run sm_90 "$build/kernels-cpu" "CUDA spelling, sm_70+ paths (nvcuda::wmma), kernels built by g++" "$@"
if [ "$gfx" != 1 ]; then
  say "gfx1103 build skipped (UNICORN_KERNELS_CPU_GFX1103=$gfx)"
elif [ "$gfx_ok" = 1 ]; then
  run gfx1103 "$build/kernels-cpu-gfx1103" "HIP spelling, RDNA3 paths (WMMA builtins), kernels built by clang-17" "$@"
else
  failed=$((failed + 1))
fi
echo "kernels-cpu: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
