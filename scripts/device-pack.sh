#!/usr/bin/env bash
# Packs what a run of scripts/device-gpu.sh on an NVIDIA machine of the `device` tool needs into
# .device/ (ignored by git; name it in the run's `carry`). That machine reaches no registry and
# a run carries at most 64 MiB, so everything is built here:
#   bin.tar.xz        the llama.cpp tools and libraries built here (CPU build, dynamic
#                     backends) and libggml-unicorn.so, stripped
#   unicorn-kernels/  the kernel code objects (scripts/build-kernels.sh)
#   libhip-cuda-shim.so  the HIP runtime on CUDA (scripts/build-hip-shim.sh), for
#                     scripts/device-hip-shim.sh
#   llama-src.tar.gz  the pinned, patched llama.cpp tree, trimmed (no models/docs/examples/UI,
#                     only gguf-py when ggml-cuda itself is carried: libggml-cuda.so.xz.*),
#                     no unused ggml backends), to build ggml-cuda there: the peer we measure
#                     against, from the same source as the tools
#   tokenizer.gguf    the Gemma 3 tokenizer's keys only (no tensors), for gen-gemma3n.py there
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
out=$here/.device
rm -rf "$out" && mkdir -p "$out"

# 1. Tools, libraries and the plugin (rebuilt: the work tree's, not an older build's).
build_all
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin"
for f in "$here"/build/bin/*; do
  case $(basename "$f") in unicorn-kernels) continue ;; esac
  [ -f "$f" ] && cp -L "$f" "$stage/bin/"
done
strip --strip-debug "$stage/bin/"*.so* "$stage/bin/"llama-* "$stage/bin/"test-* 2>/dev/null || true
XZ_OPT=-T2 tar cJf "$out/bin.tar.xz" -C "$stage" bin

# 2. Kernels.
bash "$here/scripts/build-kernels.sh" --target cuda "$out/unicorn-kernels" >&2
bash "$here/scripts/build-hip-shim.sh" "$out" >&2

# ggml-cuda built on the device machine by an earlier run (device-gpu.sh brings it back in its
# files, xz in 15 MiB parts), so a later run need not rebuild it (4-8 minutes there).
peer=$(ls -t /work/.device/*/libggml-cuda.so.xz.aa 2>/dev/null | head -1 || true)
[ -n "$peer" ] && cp "${peer%.aa}".* "$out/"

# 3. llama.cpp source for ggml-cuda (and gguf-py).
src=$(readlink -f "$here/vendor/llama.cpp")
if [ -n "$peer" ]; then
  tar czf "$out/llama-src.tar.gz" -C "$src" ./gguf-py   # the peer is built already: gguf-py only
else
  tar czf "$out/llama-src.tar.gz" -C "$src" \
    --exclude=./models --exclude=./docs --exclude=./examples --exclude=./tools/ui --exclude=./benches \
    --exclude='./ggml/src/ggml-vulkan' --exclude='./ggml/src/ggml-sycl' --exclude='./ggml/src/ggml-metal' \
    --exclude='./ggml/src/ggml-cann' --exclude='./ggml/src/ggml-opencl' --exclude='./ggml/src/ggml-webgpu' \
    --exclude='./ggml/src/ggml-hexagon' --exclude='./ggml/src/ggml-openvino' --exclude='./ggml/src/ggml-zdnn' \
    --exclude='./ggml/src/ggml-zendnn' --exclude='./ggml/src/ggml-et' --exclude='./ggml/src/ggml-virtgpu' \
    --exclude='./vendor/cpp-httplib/*.cpp.gz' .
fi

# 4. The tokenizer keys: the GGUF header and key/value section of the Gemma 3 model, with the
#    tensor count set to 0 (gen-gemma3n.py reads only keys from --tokenizer-from).
python3 - "$UNICORN_CACHE/model/gemma-3-270m-q4_k_m.gguf" "$out/tokenizer.gguf" <<'PY'
import struct, sys
src, dst = sys.argv[1], sys.argv[2]
b = open(src, "rb").read()
assert b[:4] == b"GGUF"
version, n_tensors, n_kv = struct.unpack_from("<IQQ", b, 4)
off = 24
def skip_string(o):
    (n,) = struct.unpack_from("<Q", b, o); return o + 8 + n
sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
for _ in range(n_kv):
    off = skip_string(off)
    (vt,) = struct.unpack_from("<I", b, off); off += 4
    if vt == 8:
        off = skip_string(off)
    elif vt == 9:
        sub, n = struct.unpack_from("<IQ", b, off); off += 12
        if sub == 8:
            for _ in range(n): off = skip_string(off)
        else:
            off += sizes[sub] * n
    else:
        off += sizes[vt]
head = bytearray(b[:off])
struct.pack_into("<Q", head, 8, 0)
open(dst, "wb").write(head)
PY
du -sh "$out"/* >&2
echo "total: $(du -sm "$out" | cut -f1) MiB (a run carries at most 64 MiB with the work tree)" >&2

# 5. The real Gemma 3 270M model (253 MB) does not fit one run's 64 MiB: with --model it is
#    split into .dm0/ .. .dm4/ (about 50 MB each), one per run on the same warm machine;
#    `device-gpu.sh model-part` collects them there (see that script).
if [ "${1:-}" = --model ]; then
  rm -rf "$here"/.dm[0-9]
  m=$UNICORN_CACHE/model/gemma-3-270m-q4_k_m.gguf
  size=$(stat -c %s "$m") chunk=$((51 * 1000 * 1000))
  for i in 0 1 2 3 4; do
    mkdir -p "$here/.dm$i"
    dd if="$m" of="$here/.dm$i/part" bs=1000000 skip=$((i * 51)) count=51 status=none
  done
  sha256sum "$m" | cut -d' ' -f1 > "$here/.dm4/sha256"
  say "model split into .dm0..4 ($(du -sh "$here"/.dm0 | cut -f1) each; $size bytes)"
fi
