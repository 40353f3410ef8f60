#!/usr/bin/env bash
# Compiles and links backend/xrt-sys's shim (libunicorn-xrt.so) against a real XRT 2.25 in the
# cached Debian sid root (scripts/npu-xrt-chroot.sh), with the cc crate as on a Phoenix box,
# then loads it and calls into it (tests/shim.rs): its ABI, the XRT version it was built
# against, and a device open that must fail cleanly here (no NPU), not crash.
#
# The repository, the Rust toolchain and the cargo cache are bind-mounted at their own paths;
# the build goes to target/xrt-sid (artifacts linked against sid's glibc stay out of target/).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { echo "[npu-xrt-check] $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

t0=$SECONDS
eval "$(bash "$here/scripts/npu-xrt-chroot.sh" | grep '^UCN_XRT_ROOT=')"
root=$UCN_XRT_ROOT
cargo_home=${CARGO_HOME:-$HOME/.cargo}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_bin=$(command -v cargo) || { say "cargo not found"; exit 1; }

mounts=()
bind() { # bind SRC: the same path inside the root
  as_root mkdir -p "$root$1"
  as_root mount --bind "$1" "$root$1"
  mounts+=("$root$1")
}
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do as_root umount -l "${mounts[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
as_root mkdir -p "$root/proc" "$root/dev"
as_root mount -t proc proc "$root/proc"; mounts+=("$root/proc")
bind /dev
bind "$here"
bind "$cargo_home"
[ -d "$rustup_home" ] && bind "$rustup_home"

say "cargo test -p xrt-sys in the sid root (XRT $(grep libxrt-dev "$root/.ucn-ready" | cut -d' ' -f2))"
as_root chroot "$root" /usr/bin/env -i PATH="$(dirname "$cargo_bin"):/usr/sbin:/usr/bin:/sbin:/bin" \
  HOME="$HOME" CARGO_HOME="$cargo_home" RUSTUP_HOME="$rustup_home" LC_ALL=C.UTF-8 \
  CARGO_TARGET_DIR="$here/target/xrt-sid" CARGO_NET_OFFLINE=true \
  bash -c "cd '$here' && cargo test --release -p xrt-sys -- --nocapture 2>&1 | grep -vE '^\s*(Compiling|Running|Finished|Doc-tests)' ; exit \${PIPESTATUS[0]}"
shim=$here/target/xrt-sid/release/build
lib=$(find "$shim" -name libunicorn-xrt.so -newer "$here/backend/xrt-sys/shim/ucn_xrt.cpp" | head -1)
[ -n "$lib" ] || { say "libunicorn-xrt.so was not built"; exit 1; }
say "built $lib: $(as_root chroot "$root" ldd "$lib" | grep -oE 'libxrt_coreutil[^ ]*' | head -1) linked; exports $(nm -D --defined-only "$lib" | grep -c ' T ucn_xrt_') ucn_xrt_* symbols"
say "done in $((SECONDS - t0)) s"
