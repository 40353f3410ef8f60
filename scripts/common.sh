# Shared by scripts/run.sh and scripts/test.sh: install what a fresh Debian machine lacks,
# then build llama.cpp (cached) and the plugin, and put both in build/bin/.
# shellcheck shell=bash
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export UNICORN_CACHE=${UNICORN_CACHE:-$HOME/.cache/unicorn}

say() { echo "[unicorn] $*" >&2; }

install_deps() {
  local need=()
  command -v cmake >/dev/null || need+=(cmake)
  command -v ninja >/dev/null || need+=(ninja-build)
  command -v c++ >/dev/null || need+=(build-essential)
  command -v python3 >/dev/null || need+=(python3 python3-pip)
  # bindgen needs libclang itself (libclang-NN.so), not libclang-cpp which other packages bring.
  ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/x86_64-linux-gnu/libclang-[0-9]*.so* >/dev/null 2>&1 \
    || need+=(libclang-dev clang)
  if [ ${#need[@]} -gt 0 ]; then
    say "apt-get install ${need[*]}"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if ! command -v cargo >/dev/null; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH=$HOME/.cargo/bin:$PATH
  fi
  if ! command -v cargo >/dev/null; then
    # Debian's cargo is too old for the crates used here (bindgen 0.72 needs Rust >= 1.80).
    say "cargo not found: install a Rust toolchain >= 1.80 with rustup (https://rustup.rs), then rerun"
    return 1
  fi
  python3 -m pip install -q -r "$here/tests/requirements.txt" 2>&1 | grep -v 'Running pip as' >&2 || true
}

# llama.cpp (pinned, patched, cached) and libggml-unicorn.so, side by side in build/bin/.
# $1: setup-llama.sh's target set, main (run.sh: the shortest cold build) or tests.
build_all() {
  bash "$here/scripts/setup-llama.sh" "${1:-main}"
  say "building libggml-unicorn.so (cargo, release)"
  (cd "$here" && cargo build --release --quiet -p unicorn)
  # Rename into place: a running tool keeps the file it loaded.
  cp "$here/target/release/libggml_unicorn.so" "$here/build/bin/.libggml-unicorn.so.tmp"
  mv "$here/build/bin/.libggml-unicorn.so.tmp" "$here/build/bin/libggml-unicorn.so"
}

# The GPU kernel compilers (nvcc 13.0, hipcc for gfx1103), cached in $UNICORN_CACHE/toolchains.
# Only the tests need them (scripts/test.sh); scripts/run.sh does not.
install_gpu_toolchains() {
  bash "$here/scripts/setup-gpu-toolchains.sh" all >/dev/null
}

# The plugin's hardware probe (backend/unicorn/src/probe.rs, exported as unicorn_probe_report):
# key=value lines (npu=, igpu=, gfx=, gfx11=, phoenix=yes|no). The probe has one implementation,
# the plugin's; this only prints it. Needs build/bin/libggml-unicorn.so (build_all).
# UNICORN_PROBE_OVERRIDE=phoenix (tests) makes it report a Phoenix APU.
hardware_probe() {
  LD_LIBRARY_PATH="$here/build/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    python3 - "$here/build/bin/libggml-unicorn.so" <<'PY'
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
report = lib.unicorn_probe_report
report.restype, report.argtypes = ctypes.c_size_t, [ctypes.c_char_p, ctypes.c_size_t]
buf = ctypes.create_string_buffer(4096)
report(buf, len(buf))
sys.stdout.write(buf.value.decode())
PY
}

# UNICORN_EMULATE=1 unless Phoenix hardware is present (the plugin's probe says phoenix=yes).
hardware_present() {
  local p
  p=$(hardware_probe) || { say "the plugin's hardware probe failed (is build/bin/libggml-unicorn.so built?)"; return 1; }
  grep -qx 'phoenix=yes' <<< "$p"
}
