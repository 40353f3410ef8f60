#!/usr/bin/env bash
# A Debian sid root with XRT 2.25 (libxrt-dev, libxrt2, libxrt-npu2, uuid-dev) and g++, for
# compiling and linking backend/xrt-sys's C++ shim against a real XRT (bookworm and trixie
# ship XRT 2.13, which has no xrt::hw_context). Packages newer than bookworm need glibc >= 2.38,
# hence a chroot and not the host.
#
#   scripts/npu-xrt-chroot.sh            prints UCN_XRT_ROOT=<dir> (the root, ready to chroot into)
#   scripts/npu-xrt-chroot.sh --time     the same, and how long each step took
#
# Cache: $UNICORN_CACHE/toolchains/xrt-sid-<key>.tar.zst is the artifact CI keeps (one file,
# root-owned device nodes and all); the unpacked root beside it is reused while its key
# matches. Cold: debootstrap --variant=minbase sid + apt-get install; warm from the tarball:
# unpack only; warm with the unpacked root: nothing.
set -euo pipefail
UNICORN_CACHE=${UNICORN_CACHE:-$HOME/.cache/unicorn}
tc=$UNICORN_CACHE/toolchains
SUITE=sid
PACKAGES=(libxrt-dev libxrt2 libxrt-npu2 uuid-dev g++ make ca-certificates)

say() { echo "[npu-xrt-chroot] $*" >&2; }
die() { say "error: $*"; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
timing=0; [ "${1:-}" = --time ] && timing=1

key=$(printf '%s\n' "$SUITE" "${PACKAGES[@]}" | sha256sum | cut -c1-12)
dir=$tc/xrt-$SUITE-$key
tarball=$tc/xrt-$SUITE-$key.tar.zst
mkdir -p "$tc"
exec 9>"$tc/.xrt-lock"
flock 9

mirror() {
  if [ -n "${UNICORN_DEBIAN_MIRROR:-}" ]; then echo "$UNICORN_DEBIAN_MIRROR"; return; fi
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | sed -E 's/\[[^]]*\]//' |
      awk '$1 == "deb" {print $2}'
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}'
  } | grep -E '^https?://[^ ]*/debian/?$' | head -1
}

in_root() {
  as_root chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "${@:2}"
}

t0=$SECONDS
if [ -e "$dir/.ready" ]; then
  [ $timing = 1 ] && say "unpacked root present: 0 s"
elif [ -e "$tarball" ]; then
  say "unpacking $tarball"
  as_root rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  as_root tar -C "$dir.tmp" --zstd -xpf "$tarball"
  as_root rm -rf "$dir" && mv "$dir.tmp" "$dir"
  [ $timing = 1 ] && say "unpacked from the tarball in $((SECONDS - t0)) s"
else
  command -v zstd >/dev/null || { as_root apt-get install -y -qq zstd >/dev/null 2>&1 ||
    { as_root apt-get update -qq && as_root apt-get install -y -qq zstd >/dev/null; }; }
  command -v debootstrap >/dev/null || { as_root apt-get install -y -qq debootstrap >/dev/null 2>&1 ||
    { as_root apt-get update -qq && as_root apt-get install -y -qq debootstrap >/dev/null; }; }
  m=$(mirror); [ -n "$m" ] || die "no Debian mirror in /etc/apt/sources*; set UNICORN_DEBIAN_MIRROR"
  say "debootstrap --variant=minbase $SUITE ($m) into $dir"
  as_root rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  if ! as_root debootstrap --variant=minbase "$SUITE" "$dir.tmp/root" "$m" > "$dir.tmp.debootstrap.log" 2>&1; then
    tail -20 "$dir.tmp.debootstrap.log" >&2; die "debootstrap failed (log: $dir.tmp.debootstrap.log)"
  fi
  t1=$SECONDS
  say "debootstrap: $((t1 - t0)) s; apt-get install ${PACKAGES[*]}"
  if ! { in_root "$dir.tmp/root" apt-get -o Acquire::Check-Valid-Until=false update -qq &&
         in_root "$dir.tmp/root" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"; } \
       > "$dir.tmp.apt.log" 2>&1; then
    tail -20 "$dir.tmp.apt.log" >&2; die "apt-get in the $SUITE root failed (log: $dir.tmp.apt.log)"
  fi
  in_root "$dir.tmp/root" apt-get clean
  as_root rm -rf "$dir.tmp/root/var/lib/apt/lists"/* "$dir.tmp/root/usr/share/doc" \
    "$dir.tmp/root/usr/share/man" "$dir.tmp/root/usr/share/locale"
  t2=$SECONDS
  # Smoke test: XRT's headers and hw_context are there, and a program using them links.
  printf '%s\n' '#include <xrt/xrt_device.h>' '#include <xrt/xrt_hw_context.h>' \
    'int main() { try { xrt::device d(0u); xrt::hw_context c; (void)c; } catch (const std::exception &e) { return 3; } return 0; }' \
    > "$dir.tmp/root/tmp/smoke.cpp"
  in_root "$dir.tmp/root" g++ -std=c++17 -o /tmp/smoke /tmp/smoke.cpp -lxrt_coreutil ||
    die "a program using xrt::hw_context does not compile or link in the $SUITE root"
  rm -f "$dir.tmp/root/tmp/smoke" "$dir.tmp/root/tmp/smoke.cpp"
  in_root "$dir.tmp/root" dpkg-query -W -f '${Package} ${Version}\n' libxrt-dev libxrt2 libxrt-npu2 g++ \
    > "$dir.tmp/root/.ucn-ready"
  say "apt-get + smoke test: $((t2 - t1)) s (+$((SECONDS - t2)) s link check)"
  t3=$SECONDS
  as_root tar -C "$dir.tmp" --zstd -cpf "$tarball.tmp" root && mv "$tarball.tmp" "$tarball"
  say "tarball $(du -h "$tarball" | cut -f1) in $((SECONDS - t3)) s"
  cp "$dir.tmp/root/.ucn-ready" "$dir.tmp/.ready"
  as_root rm -rf "$dir" && mv "$dir.tmp" "$dir"
  say "sid root with XRT ready in $((SECONDS - t0)) s cold: $(tr '\n' ' ' < "$dir/.ready")"
fi
echo "UCN_XRT_ROOT=$dir/root"
