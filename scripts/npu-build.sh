#!/usr/bin/env bash
# Builds the NPU kernel files with the pinned toolchain, and checks that every core fits.
#
#   scripts/npu-build.sh OUTDIR
#
# Exit 0: OUTDIR holds, per head dimension D in 64 128 256, flash_attn_ext_d<D>.o (Peano),
# flash_attn_ext_d<D>.xclbin (aiecc) and the instruction-sequence templates with their patch
# tables for decode and prefill (flash_attn_ext_d<D>_h2_g4_b1_q1 and _q512: .insts.bin and
# .patch, patchmap.py), and every core's program memory is <= 16 KB and its data memory <=
# 64 KB (stack, counters and the compiler's own buffers included: read from the linked ELFs).
# Non-zero with one clear line when the wheels cannot be installed or verified, a tool is
# missing, a build step fails or a core does not fit. No NPU is needed to build; the hardware
# run is scripts/phoenix-install.sh (which calls this script; scripts/phoenix-validate.sh then measures).
#
# The toolchain (pinned; override only to try a newer one, and then record its hashes):
#   mlir_aie  MLIR_AIE_VERSION from the mlir-aie GitHub release MLIR_AIE_RELEASE
#   llvm-aie  PEANO_VERSION (Peano) from the llvm-aie GitHub release PEANO_RELEASE
# Both wheels are installed with pip --require-hashes against scripts/npu-wheels.sha256 (one
# "name==version --hash=sha256:..." line per wheel). This repository could not download them
# (no network to GitHub here), so the hash file starts empty: the first run on the Phoenix box
# fails with the command that records them (NPU_BUILD_RECORD_HASHES=1 scripts/npu-build.sh
# OUTDIR: downloads, prints and writes the hashes); commit that file, and every later run is
# pinned. The release uses the C++ `aiecc` driver (mlir-aie PR #2925, 2026-03; the Python
# aiecc.py wrapper was removed by PR #3369, 2026-07); aiecc.py is used only if `aiecc` is absent.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-}
say() { echo "[npu-build] $*" >&2; }
die() { say "error: $*"; exit 1; }
[ -n "$out" ] || { echo "usage: scripts/npu-build.sh OUTDIR" >&2; exit 2; }
mkdir -p "$out" && out=$(cd "$out" && pwd) || die "cannot create $out"

UNICORN_CACHE=${UNICORN_CACHE:-$HOME/.cache/unicorn}
# mlir_aie 1.3.2.dev101+ge094875 (latest-wheels-3): the wheel Xilinx/mlir-air pinned on
# 2026-06-05 (mlir-air PR #1670); it has the C++ aiecc and still the aiecc.py wrapper.
# llvm-aie 21.0.0.2026062301+cb664e8c: the nightly Xilinx/mlir-air and mlir-aie pinned as last
# good on 2026-06-25 (mlir-air PR #1692, mlir-aie PR #3221; the next nightly miscompiled
# int->float->int at -O2 on AIE2, llvm-aie#1056).
MLIR_AIE_RELEASE=${MLIR_AIE_RELEASE:-latest-wheels-3}
MLIR_AIE_VERSION=${MLIR_AIE_VERSION:-1.3.2.dev101+ge094875}
PEANO_RELEASE=${PEANO_RELEASE:-nightly}
PEANO_VERSION=${PEANO_VERSION:-21.0.0.2026062301+cb664e8c}
MLIR_AIE_WHEELS=https://github.com/Xilinx/mlir-aie/releases/expanded_assets/$MLIR_AIE_RELEASE
PEANO_WHEELS=https://github.com/Xilinx/llvm-aie/releases/expanded_assets/$PEANO_RELEASE
hashes=$here/scripts/npu-wheels.sha256
venv=${NPU_VENV:-$UNICORN_CACHE/npu-venv-$MLIR_AIE_VERSION}
DIMS=${NPU_DIMS:-64 128 256}
SHAPES=${NPU_SHAPES:-h2_g4_b1_q1 h2_g4_b1_q512}
PM_LIMIT=16384   # program memory per AIE-ML core
DM_LIMIT=65536   # data memory per AIE-ML core

command -v python3 >/dev/null || die "python3 not found"

# --- 1. the pinned wheels --------------------------------------------------------------------
if [ "${NPU_BUILD_RECORD_HASHES:-0}" = 1 ]; then
  dl=$(mktemp -d); trap 'rm -rf "$dl"' EXIT
  python3 -m pip download -q --no-deps -d "$dl" "mlir_aie==$MLIR_AIE_VERSION" -f "$MLIR_AIE_WHEELS" ||
    die "cannot download mlir_aie==$MLIR_AIE_VERSION from $MLIR_AIE_WHEELS"
  python3 -m pip download -q --no-deps -d "$dl" "llvm-aie==$PEANO_VERSION" -f "$PEANO_WHEELS" ||
    die "cannot download llvm-aie==$PEANO_VERSION from $PEANO_WHEELS"
  : > "$hashes"
  for w in "$dl"/*.whl; do
    name=$(basename "$w" | cut -d- -f1 | tr _ -); ver=$(basename "$w" | cut -d- -f2)
    echo "$name==$ver --hash=sha256:$(sha256sum "$w" | cut -d' ' -f1)" | tee -a "$hashes"
  done
  say "wrote $hashes: review and commit it"
fi
grep -q -- '--hash=sha256:' "$hashes" 2>/dev/null ||
  die "no wheel hashes in $hashes: on a machine that reaches GitHub run NPU_BUILD_RECORD_HASHES=1 scripts/npu-build.sh $out once, check the versions, commit the file"
if [ ! -x "$venv/bin/python3" ] || ! "$venv/bin/python3" -c 'import aie' 2>/dev/null; then
  say "installing mlir_aie $MLIR_AIE_VERSION and llvm-aie $PEANO_VERSION (hash-checked) into $venv"
  python3 -m venv "$venv" || die "python3 -m venv $venv failed"
  "$venv/bin/pip" install -q --require-hashes --no-deps -r "$hashes" -f "$MLIR_AIE_WHEELS" -f "$PEANO_WHEELS" ||
    die "the pinned wheels did not install (hash mismatch, or $MLIR_AIE_WHEELS / $PEANO_WHEELS unreachable)"
  "$venv/bin/pip" install -q numpy ml_dtypes || die "numpy/ml_dtypes did not install"
fi
py=$venv/bin/python3
peano=$("$py" -c 'import os, llvm_aie; print(os.path.dirname(llvm_aie.__file__))' 2>/dev/null) ||
  die "llvm-aie (Peano) is not importable from $venv"
[ -x "$peano/bin/clang++" ] || die "Peano's clang++ not found under $peano/bin"
aiecc=$(PATH=$venv/bin:$PATH command -v aiecc || PATH=$venv/bin:$PATH command -v aiecc.py) ||
  die "neither aiecc nor aiecc.py in $venv/bin: is mlir_aie $MLIR_AIE_VERSION installed?"
mlir_aie=$("$py" -c 'import os, aie; print(os.path.dirname(os.path.dirname(os.path.dirname(aie.__file__))))')
say "mlir_aie $("$venv/bin/pip" show mlir_aie 2>/dev/null | awk '/^Version/ {print $2}'), Peano $peano, $aiecc"

# The kernel's AIE API use against the headers this wheel ships.
api=$(find "$mlir_aie" "$peano" -path '*include/aie_api/aie.hpp' 2>/dev/null | head -1)
if [ -n "$api" ]; then
  python3 "$here/scripts/npu-check-aie-api.py" --aie-api "$(dirname "$(dirname "$(dirname "$api")")")" ||
    die "the kernel's AIE API use does not match the installed headers ($api)"
else
  python3 "$here/scripts/npu-check-aie-api.py" || die "AIE API check failed"
  say "(no aie_api headers found in the wheels to re-check the list against)"
fi

# --- 2. the kernels: .o, .xclbin, templates --------------------------------------------------
make -C "$here/kernels/npu/flash_attn_ext" OUT="$out" PYTHON="$py" PEANO="$peano" MLIR_AIE="$mlir_aie" \
  AIECC="$aiecc" DIMS="$DIMS" SHAPES="$SHAPES" > "$out/build.log" 2>&1 ||
  { tail -30 "$out/build.log" >&2; die "kernel build failed (log: $out/build.log)"; }

# --- 3. every core fits: program <= 16 KB, data <= 64 KB -------------------------------------
# aiecc leaves one linked ELF per core (core_<col>_<row>.elf) in its work directory; its
# sections give the program size (.text) and the data the linker placed (.data, .bss, the
# stack and the buffers the design declared, at their addresses in the core's 64 KB).
size=$peano/bin/llvm-size
[ -x "$size" ] || size=$(command -v llvm-size) || die "llvm-size not found (Peano's or the system's)"
fail=0 n=0
for d in $DIMS; do
  [ -s "$out/flash_attn_ext_d$d.xclbin" ] || { say "missing $out/flash_attn_ext_d$d.xclbin"; fail=1; }
  for s in $SHAPES; do
    for f in insts.bin patch; do
      [ -s "$out/flash_attn_ext_d${d}_$s.$f" ] || { say "missing $out/flash_attn_ext_d${d}_$s.$f"; fail=1; }
    done
  done
  elfs=$(find "$out" -path "*fa_d$d*" -name 'core_*.elf' 2>/dev/null)
  [ -n "$elfs" ] || { say "D=$d: no core ELFs found under $out (aiecc's work directory)"; fail=1; continue; }
  for e in $elfs; do
    read -r pm dm < <("$size" -A "$e" | awk '
      $1 ~ /^\.text/ {pm += $2}
      $1 ~ /^\.(data|rodata|bss|stack|heap)/ || $1 ~ /_buff|buffer/ {dm += $2}
      END {print pm + 0, dm + 0}')
    n=$((n + 1))
    if [ "$pm" -gt "$PM_LIMIT" ] || [ "$dm" -gt "$DM_LIMIT" ]; then
      say "D=$d $(basename "$e"): program $pm B (limit $PM_LIMIT), data $dm B (limit $DM_LIMIT): DOES NOT FIT"; fail=1
    else
      echo "D=$d $(basename "$e"): program $pm B, data $dm B"
    fi
  done
done
[ "$fail" = 0 ] || die "the kernel files are incomplete or a core does not fit (see above)"
say "ok: $n core programs checked (program <= $PM_LIMIT B, data <= $DM_LIMIT B), kernels in $out"
