#!/usr/bin/env bash
# Compiles the GPU kernels (kernels/hip/unicorn.cu, which #includes every op file) and checks
# what came out:
#   unicorn-gfxNNNN.hsaco  hipcc --genco for one RDNA3 / RDNA3.5 GPU (clang offload bundle,
#                          hipModuleLoadData): gfx1103 (Radeon 780M/760M, Phoenix), gfx1100,
#                          gfx1101, gfx1102 (RX 7000), gfx1150 (890M, Strix Point), gfx1151
#                          (8060S, Strix Halo); the HIP driver loads the one of its GPU
#   unicorn-cuda.fatbin    nvcc -fatbin: sm_90 SASS + compute_90 PTX (cuModuleLoadData; newer
#                          GPUs JIT the PTX)
# The check, per gfx target: the bundle lists hipv4-amdgcn-amd-amdhsa--gfxNNNN and that entry,
# unbundled, is an EM_AMDGPU ELF whose machine flag is EF_AMDGPU_MACH_AMDGCN_GFXNNNN and whose
# metadata target is gfxNNNN; the fatbin holds an sm_90 ELF and PTX; all objects hold the same
# ucn_* kernels; a table of registers and spills per kernel (a spill is a warning line).
#
#   scripts/build-kernels.sh [--target T] [OUTDIR]   (default build/bin/unicorn-kernels)
#   scripts/build-kernels.sh [--target T] --check kernels/hip/foo.cu [more.cu ...]
#
#   T: all (gfx1103 + cuda, the default), gfx11 (the six gfx targets), all-gfx11 (the six and
#   cuda), cuda, or one of gfx1100 gfx1101 gfx1102 gfx1103 gfx1150 gfx1151
#
# --check compiles each file on its own for the targets (nothing cached or copied) and prints
# the compilers' errors as they are. Outputs are cached in $UNICORN_CACHE/kernels/, keyed by a
# hash of kernels/hip/*, the flags and the compiler versions. Toolchains come from
# scripts/setup-gpu-toolchains.sh (installed on first use).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UNICORN_CACHE=${UNICORN_CACHE:-$HOME/.cache/unicorn}

HIP_FLAGS=(--genco -O3 -std=c++17) # plus --offload-arch=<target>
GFX11=(gfx1100 gfx1101 gfx1102 gfx1103 gfx1150 gfx1151)
# shellcheck disable=SC2054 # the commas belong to nvcc's -gencode values
CUDA_FLAGS=(-fatbin -O3 -std=c++17 -gencode arch=compute_90,code=sm_90
  -gencode arch=compute_90,code=compute_90 -Xptxas -v)
FATBIN=unicorn-cuda.fatbin
out_name() { if [ "$1" = cuda ]; then echo "$FATBIN"; else echo "unicorn-$1.hsaco"; fi; }

say() { echo "[kernels] $*" >&2; }
die() { say "error: $*"; exit 1; }
usage() { sed -n '/^#   scripts/p' "$0" | sed 's/^# *//' >&2; exit 2; }

target=all check=() outdir=
while [ $# -gt 0 ]; do
  case $1 in
  --target) target=${2:-}; shift 2 ;;
  --target=*) target=${1#*=}; shift ;;
  --check) shift; [ $# -gt 0 ] || usage; while [ $# -gt 0 ] && [ "${1:0:2}" != -- ]; do check+=("$(realpath -m "$1")"); shift; done ;;
  -h | --help) usage ;;
  -*) usage ;;
  *) [ -z "$outdir" ] || usage; outdir=$1; shift ;;
  esac
done
case $target in
cuda) targets=(cuda) ;;
all) targets=(gfx1103 cuda) ;;
gfx11) targets=("${GFX11[@]}") ;;
all-gfx11) targets=("${GFX11[@]}" cuda) ;;
*) [[ " ${GFX11[*]} " == *" $target "* ]] || usage; targets=("$target") ;;
esac
outdir=${outdir:-$here/build/bin/unicorn-kernels}

# Toolchains (installed and cached on first use).
need=all
[ "$target" = cuda ] && need=cuda
[[ " ${targets[*]} " == *" cuda "* ]] || need=hip
toolchains=$(bash "$here/scripts/setup-gpu-toolchains.sh" "$need") || die "toolchain set-up failed"
eval "$toolchains"

work=$(mktemp -d)
hwork= # a folder inside the hipcc root
cleanup() { rm -rf "$work"; [ -z "$hwork" ] || rm -rf "$hwork"; }
trap cleanup EXIT

# Runs a command inside the hipcc root, in folder $1 (a path inside the root).
if [ "$(id -u)" = 0 ]; then chroot_cmd=(chroot)
elif unshare -r true 2>/dev/null; then chroot_cmd=(unshare -r chroot)
else chroot_cmd=(sudo chroot); fi
in_hip() {
  local dir=$1; shift
  "${chroot_cmd[@]}" "$UCN_HIP_ROOT" /usr/bin/env -i PATH=/usr/bin:/bin LC_ALL=C.UTF-8 HOME=/tmp \
    /bin/sh -c 'cd "$0" && exec "$@"' "$dir" "$@"
}
if [ "$need" != cuda ]; then
  hwork=$(mktemp -d -p "$UCN_HIP_ROOT/tmp" unicorn-kernels.XXXXXX)
  hdir=/tmp/$(basename "$hwork") # the same folder, seen from inside the root
fi

# --- compiling --------------------------------------------------------------------------
# Each compile: SRC (repo-relative) OUT LOG; compiler messages go to LOG, exit status kept.
# compile_gfx ARCH SRC OUT LOG [extra flags]: in a folder of its own (targets compile in
# parallel).
compile_gfx() {
  local arch=$1 src=$2 out=$3 log=$4 extra=("${@:5}") rc=0
  local w=$hwork/$arch d=$hdir/$arch
  rm -rf "$w"; mkdir -p "$w/kernels"
  cp -a "$here/kernels/hip" "$w/kernels/hip"
  local in=$src
  if [[ $src != kernels/hip/* ]]; then # a file elsewhere (--check): copied in, as ext/NAME
    in=ext/$(basename "$src"); mkdir -p "$w/ext"; cp "$src" "$w/$in"
  fi
  in_hip "$d" hipcc "${HIP_FLAGS[@]}" --offload-arch="$arch" "${extra[@]}" -o out.hsaco "$in" > "$log" 2>&1 || rc=$?
  [ $rc = 0 ] && cp "$w/out.hsaco" "$out"
  return $rc
}
compile_cuda() {
  local src=$1 out=$2 log=$3 extra=("${@:4}")
  (cd "$here" && "$UCN_CUDA_BIN/nvcc" "${CUDA_FLAGS[@]}" "${extra[@]}" -o "$out" "$src") > "$log" 2>&1
}

# --- checking ---------------------------------------------------------------------------
# check_gfx ARCH HSACO NAME LABEL: the bundle holds ARCH, an EM_AMDGPU ELF whose machine flag
# is EF_AMDGPU_MACH_AMDGCN_<ARCH> (as llvm-readobj names it) and whose metadata target is
# ARCH; writes NAME.kernels (one per line) and NAME.res (kernel sgpr vgpr sgpr_spill
# vgpr_spill scratch lds).
check_gfx() {
  local arch=$1 f=$2 name=$3 label=$4 entries hdr mach notes
  local id=hipv4-amdgcn-amd-amdhsa--$arch d=$hdir/$arch w=$hwork/$arch
  mkdir -p "$w"
  cp "$f" "$w/check.hsaco"
  entries=$(in_hip "$d" clang-offload-bundler-17 --list --type=o --input=check.hsaco) ||
    { say "$arch: $f is not a clang offload bundle"; return 1; }
  grep -qx "$id" <<< "$entries" ||
    { say "$arch: bundle entries are [${entries//$'\n'/ }], no $id"; return 1; }
  in_hip "$d" clang-offload-bundler-17 --unbundle --type=o --input=check.hsaco \
    --targets="$id" --output=check.co || return 1
  hdr=$(in_hip "$d" llvm-readelf-17 -h check.co)
  grep -Eq 'Machine: +EM_AMDGPU' <<< "$hdr" || { say "$arch: unbundled entry is not EM_AMDGPU"; echo "$hdr" >&2; return 1; }
  # e_flags' machine field, by name (gfx1103: EF_AMDGPU_MACH_AMDGCN_GFX1103 (0x44)).
  mach=$(in_hip "$d" llvm-readobj-17 -h check.co | grep -oE 'EF_AMDGPU_MACH_AMDGCN_GFX[0-9A-F]+ \(0x[0-9A-Fa-f]+\)')
  [[ $mach == "EF_AMDGPU_MACH_AMDGCN_${arch^^} "* ]] || { say "$arch: ELF machine flag is [$mach], not ${arch^^}"; echo "$hdr" >&2; return 1; }
  notes=$(in_hip "$d" llvm-readelf-17 --notes check.co)
  grep -q "amdhsa.target: *amdgcn-amd-amdhsa--$arch\$" <<< "$notes" || { say "$arch: metadata target is not $arch"; return 1; }
  say "$arch: $label: bundle [${entries//$'\n'/ }], $id is an EM_AMDGPU ELF," \
    "$mach, ABI version $(awk '/ABI Version:/ {print $3}' <<< "$hdr")," \
    "$(in_hip "$d" stat -c %s check.co) bytes"
  in_hip "$d" llvm-readelf-17 -s --wide check.co | awk '$4 == "OBJECT" && $8 ~ /\.kd$/ {sub(/\.kd$/, "", $8); print $8}' |
    sort -u > "$work/$name.kernels"
  # AMDGPU metadata (YAML): one "  - " item per kernel under amdhsa.kernels.
  awk 'function flush() { if (k != "") print k, v["sgpr_count"]+0, v["vgpr_count"]+0, v["sgpr_spill_count"]+0,
         v["vgpr_spill_count"]+0, v["private_segment_fixed_size"]+0, v["group_segment_fixed_size"]+0; k = ""; split("", v) }
       /^  - / { flush() }
       /^amdhsa\.(target|version)/ { flush() }
       /^    \.[a-z_]+:/ { key = $1; sub(/^\./, "", key); sub(/:$/, "", key); if (key == "name") k = $2; else v[key] = $2 }
       END { flush() }' <<< "$notes" | sort > "$work/$name.res"
}

# check_cuda FATBIN LOG NAME: sm_90 ELF and compute_90 PTX inside, their entry points equal;
# writes NAME.kernels and NAME.res (kernel regs spill_stores spill_loads stack smem) from LOG.
check_cuda() {
  local f=$1 log=$2 name=$3 label=$4 elf ptx
  elf=$("$UCN_CUOBJDUMP" --list-elf "$f" 2>&1) || { say "cuda: cuobjdump cannot read $f: $elf"; return 1; }
  ptx=$("$UCN_CUOBJDUMP" --list-ptx "$f" 2>&1) || { say "cuda: cuobjdump cannot read $f: $ptx"; return 1; }
  grep -q 'sm_90\.cubin$' <<< "$elf" || { say "cuda: no sm_90 ELF in $f ($elf)"; return 1; }
  grep -q 'sm_90\.ptx$' <<< "$ptx" || { say "cuda: no compute_90 PTX in $f ($ptx)"; return 1; }
  say "cuda: $label: SASS ELF [$(awk '{print $NF}' <<< "$elf" | sed -E 's/.*\.(sm_[0-9a-z]+)\.cubin/\1/' | xargs)]" \
    "PTX [$(awk '{print $NF}' <<< "$ptx" | sed -E 's/.*\.(sm_[0-9a-z]+)\.ptx/\1/' | xargs)], $(stat -c %s "$f") bytes"
  "$UCN_CUOBJDUMP" -symbols "$f" | awk '$3 == "STO_ENTRY" {print $4}' | sort -u > "$work/$name.kernels"
  "$UCN_CUOBJDUMP" -ptx "$f" | sed -nE 's/^\.(visible )?\.entry ([A-Za-z0-9_$]+).*/\2/p' | sort -u > "$work/$name.ptx-kernels"
  if ! cmp -s "$work/$name.kernels" "$work/$name.ptx-kernels"; then
    say "cuda: sm_90 ELF and PTX hold different kernels:"; diff "$work/$name.kernels" "$work/$name.ptx-kernels" >&2; return 1
  fi
  awk '/Compiling entry function/ { k = $0; gsub(/.*function .|. for .*/, "", k); cur = k }
       /Function properties for/ { fp = $NF }
       /bytes stack frame/ { st[fp] = $1; ss[fp] = $5; sl[fp] = $9 }
       /Used [0-9]+ registers/ && cur != "" { r = $0; sub(/.*Used /, "", r); sub(/ registers.*/, "", r); reg[cur] = r
         m = 0; if (match($0, /[0-9]+ bytes smem/)) m = substr($0, RSTART, RLENGTH) + 0; smem[cur] = m; order[++n] = cur }
       END { for (i = 1; i <= n; i++) { k = order[i]; print k, reg[k], ss[k] + 0, sl[k] + 0, st[k] + 0, smem[k] } }' \
    "$log" | sort -u > "$work/$name.res"
}

# report NAME...: the kernel table; fails when the targets hold different kernel sets.
report() {
  local names=("$@") n rc=0
  local all="$work/all.kernels"
  for n in "${names[@]}"; do cat "$work/$n.kernels"; done | sort -u > "$all"
  [ -s "$all" ] || { say "no kernels found"; return 1; }
  for n in "${names[@]}"; do
    local missing
    missing=$(comm -23 "$all" "$work/$n.kernels" | xargs)
    if [ -n "$missing" ]; then say "error: $n lacks kernels present for the other target: $missing"; rc=1; fi
  done
  grep -v '^ucn_' "$all" | sed 's/^/[kernels] warning: kernel not named ucn_*: /' >&2 || true
  # Table: one row per kernel, the columns of each target present.
  awk -v names="${names[*]}" -v dir="$work" '
    BEGIN {
      nn = split(names, N, " ")
      for (i = 1; i <= nn; i++) {
        f = dir "/" N[i] ".res"; T[i] = N[i]
        while ((getline line < f) > 0) { split(line, a, " "); R[i, a[1]] = line }
      }
      h1 = sprintf("%-28s", ""); h2 = sprintf("%-28s", "kernel")
      for (i = 1; i <= nn; i++) {
        if (T[i] ~ /^gfx/) { h1 = h1 sprintf(" | %-35s", T[i]); h2 = h2 " | sgpr vgpr spill(s/v) scratch   lds" }
        else { h1 = h1 sprintf(" | %-35s", "sm_90"); h2 = h2 " | regs spill(st/ld B) stack  smem" }
      }
      print h1; print h2
    }
    { k = $1; row = sprintf("%-28s", k)
      for (i = 1; i <= nn; i++) {
        if (!((i, k) in R)) { row = row sprintf(" | %-34s", "(missing)"); continue }
        split(R[i, k], a, " ")
        if (T[i] ~ /^gfx/) {
          row = row sprintf(" | %4d %4d %10s %7d %5d", a[2], a[3], a[4] "/" a[5], a[6], a[7])
          if (a[4] + a[5] > 0) W[++nw] = k " spills on " T[i] " (" a[4] " SGPRs, " a[5] " VGPRs)"
        } else {
          row = row sprintf(" | %4d %14s %5d %5d", a[2], a[3] "/" a[4], a[5], a[6])
          if (a[3] + a[4] > 0) W[++nw] = k " spills on sm_90 (" a[3] " bytes stored, " a[4] " loaded)"
        }
      }
      print row }
    END { for (i = 1; i <= nw; i++) print "warning: " W[i] }' "$all" | sed 's/ *$//; s/^/[kernels] /' >&2
  say "$(wc -l < "$all") kernels: $(xargs < "$all")"
  return $rc
}

# Cache key per target: every file of kernels/hip, the flags, the compiler versions.
src_hash=$(cd "$here" && find kernels/hip -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
key_of() {
  case $1 in
  cuda) { echo "$src_hash"; echo "${CUDA_FLAGS[*]}"; "$UCN_CUDA_BIN/nvcc" --version; } ;;
  gfx1103) { echo "$src_hash"; echo "${HIP_FLAGS[*]}" | sed 's/^--genco /--genco --offload-arch=gfx1103 /'; cat "$(dirname "$UCN_HIP_ROOT")/.ready"; } ;;
  *) { echo "$src_hash"; echo "${HIP_FLAGS[*]} --offload-arch=$1"; cat "$(dirname "$UCN_HIP_ROOT")/.ready"; } ;;
  esac | sha256sum | cut -c1-16
}

# Compiles SRC for every target in parallel; prints each target's compiler output; fails if
# any compile failed. Leaves $work/<target>.out.
compile_all() {
  local src=$1; shift
  local t pids=() rc=0
  for t in "${targets[@]}"; do
    (
      t0=$EPOCHREALTIME st=0
      if [ "$t" = cuda ]; then compile_cuda "$src" "$work/$t.out" "$work/$t.log" "$@" || st=$?
      else compile_gfx "$t" "$src" "$work/$t.out" "$work/$t.log" "$@" || st=$?; fi
      echo "$st $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')" > "$work/$t.status"
    ) &
    pids+=($!)
  done
  wait "${pids[@]}"
  for t in "${targets[@]}"; do
    read -r st secs < "$work/$t.status"
    if [ "$st" = 0 ]; then
      say "$t: compiled $src in $secs s"
      # ptxas -v info is the resource report below; other compiler output is shown as is.
      grep -v '^ptxas info' "$work/$t.log" | grep -Ev '^    [0-9]+ bytes stack frame' >&2 || true
    else
      say "$t: $src FAILED to compile (exit $st):"
      cat "$work/$t.log" >&2
      rc=1
    fi
  done
  return $rc
}

cd "$here"

if [ ${#check[@]} -gt 0 ]; then
  rc=0
  for f in "${check[@]}"; do
    [ -f "$f" ] || { say "$f: no such file"; rc=1; continue; }
    rel=$f
    [[ $f == "$here"/* ]] && rel=${f#"$here"/}
    say "== $rel (${targets[*]})"
    # -I kernels/hip: a file outside kernels/hip still finds common.cuh and args.h.
    if ! compile_all "$rel" -I kernels/hip; then rc=1; continue; fi
    names=()
    for t in "${targets[@]}"; do
      if [ "$t" = cuda ]; then check_cuda "$work/$t.out" "$work/$t.log" "$t" "$rel" || rc=1
      else check_gfx "$t" "$work/$t.out" "$t" "$rel" || rc=1; fi
      names+=("$t")
    done
    report "${names[@]}" || rc=1
  done
  exit $rc
fi

# Every op file must be in the translation unit, or its kernels are silently not built.
for f in kernels/hip/*.cu; do
  b=$(basename "$f")
  [ "$b" = unicorn.cu ] && continue
  grep -Eq "^#include \"$b\"" kernels/hip/unicorn.cu ||
    die "$f is not #included in kernels/hip/unicorn.cu (add: #include \"$b\")"
done

mkdir -p "$UNICORN_CACHE/kernels" "$outdir"
to_build=()
for t in "${targets[@]}"; do
  c=$UNICORN_CACHE/kernels/$t-$(key_of "$t")
  if [ -e "$c/.ok" ]; then say "$t: cached ($c)"; else to_build+=("$t"); fi
done
if [ ${#to_build[@]} -gt 0 ]; then
  all_targets=("${targets[@]}")
  targets=("${to_build[@]}")
  compile_all kernels/hip/unicorn.cu || die "compile failed"
  targets=("${all_targets[@]}")
fi

outputs=() sizes=
for t in "${targets[@]}"; do
  c=$UNICORN_CACHE/kernels/$t-$(key_of "$t")
  out=$(out_name "$t")
  if [ ! -e "$c/.ok" ]; then # freshly built: check, then cache
    if [ "$t" = cuda ]; then check_cuda "$work/$t.out" "$work/$t.log" "$t" "$out" || die "fatbin check failed"
    else check_gfx "$t" "$work/$t.out" "$t" "$out" || die "$t code object check failed"; fi
    mkdir -p "$c.tmp.$$"
    cp "$work/$t.out" "$c.tmp.$$/$out"; cp "$work/$t.log" "$c.tmp.$$/compile.log"; touch "$c.tmp.$$/.ok"
    mv -T "$c.tmp.$$" "$c" 2>/dev/null || rm -rf "$c.tmp.$$" # another build may have cached it first
  else # cached: check the cached file all the same (cheap)
    if [ "$t" = cuda ]; then check_cuda "$c/$out" "$c/compile.log" "$t" "$out" || die "cached fatbin fails its check: rm -r $c"
    else check_gfx "$t" "$c/$out" "$t" "$out" || die "cached $t code object fails its check: rm -r $c"; fi
  fi
  outputs+=("$c/$out")
done
report "${targets[@]}" || die "kernel check failed: nothing copied to $outdir"
for f in "${outputs[@]}"; do
  b=$(basename "$f")
  cp "$f" "$outdir/.$b.tmp" && mv "$outdir/.$b.tmp" "$outdir/$b" # a reader never sees half a file
  sizes+="$b ($(stat -c %s "$f") bytes) "
done
say "outputs in $outdir: $sizes"
