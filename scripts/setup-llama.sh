#!/usr/bin/env bash
# Fetch the pinned llama.cpp, apply patches/, build it with dynamic backends, and lay the
# tools out in build/bin/ beside libggml-unicorn.so.
#
# llama.cpp is never committed. It comes from the PyPI sdist of llama-cpp-python, pinned by
# sha256. Everything slow lives in a cache outside the work tree ($UNICORN_CACHE, default
# ~/.cache/unicorn):
#   dl/                       the downloaded sdist
#   llama/<key>/pristine/     the unpatched tree        key = sha256(sdist hash + build flags)
#   llama/<key>/src/          the patched tree that is built (vendor/llama.cpp links here)
#   llama/<key>/build/        the CMake build
#   llama/<key>/patches.sha   hash of the patches applied to src/
# A changed patch re-stages the tree and copies over only the files whose bytes changed, so
# CMake rebuilds exactly what the patch touches. A changed flag set is a new key: a full build.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${UNICORN_CACHE:-$HOME/.cache/unicorn}
jobs=${UNICORN_JOBS:-$(nproc)}

pin_version=0.3.36
pin_file=llama_cpp_python-${pin_version}.tar.gz
pin_sha256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e

cmake_flags=(
  -DCMAKE_BUILD_TYPE=Release -G Ninja
  -DGGML_BACKEND_DL=ON -DBUILD_SHARED_LIBS=ON
  -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
  -DLLAMA_BUILD_TESTS=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF
)
targets=(llama-server llama-cli llama-completion llama-bench llama-perplexity llama-quantize
         test-backend-ops test-export-graph-ops ggml-cpu)

log() { echo "[setup-llama] $*" >&2; }

# 1. The sdist, hash-checked.
mkdir -p "$cache/dl"
sdist=$cache/dl/$pin_file
if [ ! -f "$sdist" ] || ! echo "$pin_sha256  $sdist" | sha256sum -c --status; then
  log "fetching $pin_file through pip"
  rm -f "$sdist"
  # pip prepares metadata even for a plain download; without isolation (and with
  # scikit-build-core present) that takes seconds instead of a CMake build from source.
  python3 -m pip install -q scikit-build-core
  python3 -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
    "llama-cpp-python==$pin_version" -d "$cache/dl"
fi
if ! echo "$pin_sha256  $sdist" | sha256sum -c --status; then
  log "ERROR: $sdist does not match the pinned sha256 $pin_sha256"
  exit 1
fi

key=$(printf '%s %s' "$pin_sha256" "${cmake_flags[*]}" | sha256sum | cut -c1-16)
root=$cache/llama/$key
mkdir -p "$root"
# One set-up at a time per tree: several checkouts (worktrees, a test run beside a build) share
# this cache, and two patch/build steps on one src/ and build/ would interleave.
exec 9>"$root/.lock"
flock 9

# 2. The pristine tree, once per key.
if [ ! -f "$root/pristine/CMakeLists.txt" ]; then
  log "extracting vendor/llama.cpp from the sdist"
  rm -rf "$root/pristine" "$root/unpack"
  mkdir -p "$root/unpack"
  tar xzf "$sdist" -C "$root/unpack" "llama_cpp_python-$pin_version/vendor/llama.cpp"
  mv "$root/unpack/llama_cpp_python-$pin_version/vendor/llama.cpp" "$root/pristine"
  rm -rf "$root/unpack"
fi

# 3. The patched tree. Stage pristine + patches, then copy only changed files into src/.
patches=("$here"/patches/*.patch)
[ -e "${patches[0]}" ] || patches=()
patch_sha=$( (cat "${patches[@]}" /dev/null) | sha256sum | cut -c1-64)
if [ ! -f "$root/src/CMakeLists.txt" ] || [ "$(cat "$root/patches.sha" 2>/dev/null)" != "$patch_sha" ]; then
  log "applying ${#patches[@]} patch(es)"
  rm -rf "$root/stage"
  cp -a "$root/pristine" "$root/stage"
  for p in "${patches[@]}"; do
    log "  $(basename "$p")"
    patch -s -p1 -d "$root/stage" --no-backup-if-mismatch < "$p"
  done
  if [ ! -d "$root/src" ]; then
    mv "$root/stage" "$root/src"
  else
    # Files that differ (or exist on one side only) between stage and src.
    (cd "$root/stage" && find . -type f) | while read -r f; do
      cmp -s "$root/stage/$f" "$root/src/$f" || { mkdir -p "$(dirname "$root/src/$f")"; cp -p "$root/stage/$f" "$root/src/$f"; touch "$root/src/$f"; }
    done
    rm -rf "$root/stage"
  fi
  echo "$patch_sha" > "$root/patches.sha"
fi

# vendor/llama.cpp is the patched tree the build and bindgen read.
mkdir -p "$here/vendor"
ln -sfn "$root/src" "$here/vendor/llama.cpp"

# 4. Configure and build (incremental).
if [ ! -f "$root/build/build.ninja" ]; then
  log "configuring (flags: ${cmake_flags[*]})"
  cmake -S "$root/src" -B "$root/build" "${cmake_flags[@]}" > "$root/configure.log" 2>&1 \
    || { tail -30 "$root/configure.log"; exit 1; }
fi
log "building ${targets[*]} with $jobs jobs (cached in $root/build)"
cmake --build "$root/build" -j "$jobs" --target "${targets[@]}" > "$root/build.log" 2>&1 \
  || { tail -40 "$root/build.log"; exit 1; }

# 5. build/bin/ in the work tree: the tools and the llama/ggml libraries, side by side.
#    Hard links where possible (same file system), copies otherwise.
mkdir -p "$here/build/bin"
for f in "$root/build/bin"/*; do
  [ -f "$f" ] || continue
  dst=$here/build/bin/$(basename "$f")
  if ! cmp -s "$f" "$dst" 2>/dev/null; then
    rm -f "$dst"
    ln "$f" "$dst" 2>/dev/null || cp -p "$f" "$dst"
  fi
done
echo "$root" > "$here/build/llama-root"
log "llama.cpp ready: $here/build/bin ($(ls "$here/build/bin" | wc -l) files)"
