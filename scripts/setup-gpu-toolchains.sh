#!/usr/bin/env bash
# Installs the GPU kernel compilers, idempotently, under $UNICORN_CACHE/toolchains/:
#   cuda-<key>/        nvcc 13.0 (+ cuobjdump) from PyPI wheels, `pip install --target`
#   hip-trixie-<key>/  a Debian trixie minbase root with hipcc 5.7.1, clang-17 and
#                      rocm-device-libs-17 (native gfx1100-gfx1103, gfx1150, gfx1151: its
#                      oclc_isa_version_*.bc; clang-17 defines __GFX11__ for all six), run
#                      with chroot
# Nothing is installed into the host system except the `debootstrap` package.
#
#   scripts/setup-gpu-toolchains.sh [cuda|hip|all]     (default: all)
#
# Prints shell assignments on stdout (UCN_CUDA_BIN, UCN_CUOBJDUMP, UCN_HIP_ROOT) for
# scripts/build-kernels.sh; progress goes to stderr.
#
# Why trixie and not bookworm's hipcc 5.2.3 + clang-15: bookworm lacks gfx1103 device
# libraries (fixable) but its clang-15 also fails on RDNA3 WMMA
# (__builtin_amdgcn_wmma_f32_16x16x16_f16_w32: "Illegal instruction detected: Operand has
# incorrect register class"), which clang-17 compiles. The trixie root costs about a minute
# cold (debootstrap about 30 s, apt about 30 s on 2 cores) and nothing afterwards.
set -euo pipefail
UNICORN_CACHE=${UNICORN_CACHE:-$HOME/.cache/unicorn}
tc=$UNICORN_CACHE/toolchains

what=${1:-all}
case $what in cuda | hip | all) ;; *) echo "usage: $0 [cuda|hip|all]" >&2; exit 2 ;; esac

say() { echo "[gpu-toolchains] $*" >&2; }
die() { say "error: $*"; exit 1; }
short_hash() { sha256sum | cut -c1-12; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

mkdir -p "$tc"
exec 9>"$tc/.lock"
flock 9 # one installer at a time (engineers and CI share the cache)

# --- nvcc -----------------------------------------------------------------------------
# nvcc 13.0.88; its libraries are in nvidia/cu13/lib. cuobjdump has no 13.0 wheel: 13.2 reads
# 13.0 fatbins (the format is versioned inside the file).
CUDA_PIP_SPECS=("cuda-toolkit[nvcc,cudart,cccl]==13.0.*" "nvidia-cuda-cuobjdump==13.2.86")

setup_cuda() {
  local dir
  dir=$tc/cuda-$(printf '%s\n' "${CUDA_PIP_SPECS[@]}" | short_hash)
  if [ ! -e "$dir/.ready" ]; then
    command -v python3 >/dev/null || die "python3 is needed to install nvcc from PyPI"
    say "installing nvcc from PyPI into $dir (${CUDA_PIP_SPECS[*]})"
    local t0=$SECONDS
    rm -rf "$dir.tmp"
    # --target: a private prefix, never the system site-packages (also skips PEP 668).
    python3 -m pip install -q --no-cache-dir --disable-pip-version-check --target "$dir.tmp" \
      "${CUDA_PIP_SPECS[@]}" 2>&1 | grep -v 'Running pip as' >&2 || true
    [ -x "$dir.tmp/nvidia/cu13/bin/nvcc" ] || die "pip did not install nvcc"
    "$dir.tmp/nvidia/cu13/bin/nvcc" --version | tail -2 > "$dir.tmp/.ready"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
    say "nvcc installed in $((SECONDS - t0)) s: $(tail -1 "$dir/.ready")"
  fi
  # nvcc runs the host preprocessor even for -fatbin.
  command -v g++ >/dev/null || say "warning: nvcc needs a host C++ compiler (g++, build-essential)"
  echo "UCN_CUDA_BIN=$dir/nvidia/cu13/bin"
  echo "UCN_CUOBJDUMP=$dir/nvidia/cu13/bin/cuobjdump"
}

# --- hipcc ----------------------------------------------------------------------------
HIP_SUITE=trixie
HIP_PACKAGES=(hipcc libamdhip64-dev rocm-device-libs-17 clang-17 clang-tools-17 llvm-17 lld-17)

# The machine's own Debian mirror (from its apt sources), or $UNICORN_DEBIAN_MIRROR.
debian_mirror() {
  if [ -n "${UNICORN_DEBIAN_MIRROR:-}" ]; then echo "$UNICORN_DEBIAN_MIRROR"; return; fi
  local codename
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  {
    # one-line style: deb [opts] URI SUITE COMPONENTS
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -E 's/\[[^]]*\]//' | awk -v s="$codename" '$1 == "deb" && $3 == s {print $2}'
    # deb822 style: stanzas with URIs: and Suites:
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v s="$codename" '
      /^[[:space:]]*$/ { if (ok && uri != "") print uri; uri = ""; ok = 0; next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
      END { if (ok && uri != "") print uri }'
  } | grep -E '^https?://' | head -1
}

setup_hip() {
  local dir root
  dir=$tc/hip-$HIP_SUITE-$(printf '%s\n' "$HIP_SUITE" "${HIP_PACKAGES[@]}" | short_hash)
  root=$dir/root
  if [ ! -e "$dir/.ready" ]; then
    local t0=$SECONDS mirror
    mirror=$(debian_mirror)
    [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources*; set UNICORN_DEBIAN_MIRROR"
    if ! command -v debootstrap >/dev/null; then
      say "apt-get install debootstrap"
      as_root apt-get install -y -qq debootstrap >/dev/null 2>&1 ||
        { as_root apt-get update -qq && as_root apt-get install -y -qq debootstrap >/dev/null; }
    fi
    say "creating a $HIP_SUITE root for hipcc in $dir (debootstrap --variant=minbase, $mirror)"
    as_root rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    if ! as_root debootstrap --variant=minbase "$HIP_SUITE" "$dir.tmp/root" "$mirror" \
      > "$dir.tmp/debootstrap.log" 2>&1; then
      tail -20 "$dir.tmp/debootstrap.log" >&2
      die "debootstrap $HIP_SUITE failed (log: $dir.tmp/debootstrap.log)"
    fi
    say "debootstrap done after $((SECONDS - t0)) s; apt-get install ${HIP_PACKAGES[*]}"
    local in_root=(as_root chroot "$dir.tmp/root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin
      DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8)
    if ! { "${in_root[@]}" apt-get update -qq &&
      "${in_root[@]}" apt-get install -y -qq --no-install-recommends "${HIP_PACKAGES[@]}"; } \
      > "$dir.tmp/apt.log" 2>&1; then
      tail -20 "$dir.tmp/apt.log" >&2
      die "apt-get install in the $HIP_SUITE root failed (log: $dir.tmp/apt.log)"
    fi
    "${in_root[@]}" apt-get clean
    as_root rm -rf "$dir.tmp/root/var/lib/apt/lists"/* "$dir.tmp/root/usr/share/doc" \
      "$dir.tmp/root/usr/share/man" "$dir.tmp/root/usr/share/locale"
    # Smoke test: the device libraries of every gfx11 target are there and a kernel compiles.
    local v
    for v in 1100 1101 1102 1103 1150 1151; do
      [ -e "$dir.tmp/root/usr/lib/llvm-17/lib/clang/17/amdgcn/bitcode/oclc_isa_version_$v.bc" ] ||
        die "rocm-device-libs in the $HIP_SUITE root lack oclc_isa_version_$v.bc"
    done
    printf '#include <hip/hip_runtime.h>\nextern "C" __global__ void k(float *p) { p[threadIdx.x] *= 2; }\n' \
      > "$dir.tmp/root/tmp/smoke.hip"
    "${in_root[@]}" hipcc --genco --offload-arch=gfx1103 -O3 -o /tmp/smoke.hsaco /tmp/smoke.hip ||
      die "hipcc in the $HIP_SUITE root cannot compile for gfx1103"
    rm -f "$dir.tmp/root/tmp/smoke".*
    {
      "${in_root[@]}" dpkg-query -W -f '${Package} ${Version}\n' hipcc clang-17 rocm-device-libs-17 libamdhip64-dev
    } > "$dir.tmp/.ready"
    as_root rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    say "hipcc root ready in $((SECONDS - t0)) s ($(du -sh "$root" | cut -f1)): $(tr '\n' ' ' < "$dir/.ready")"
  fi
  echo "UCN_HIP_ROOT=$root"
}

case $what in
cuda) setup_cuda ;;
hip) setup_hip ;;
all) setup_cuda; setup_hip ;;
esac
