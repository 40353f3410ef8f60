#!/usr/bin/env bash
# Fetch the pinned llama.cpp, apply patches/, build it with dynamic backends, and lay the
# tools out in build/bin/ beside libggml-unicorn.so.
#
#   scripts/setup-llama.sh [main|tests|unpatched]
#     main       (default) what scripts/run.sh uses: llama-completion, llama-bench, the CPU and
#                RPC backends, rpc-server. The shortest cold build.
#     tests      main plus everything scripts/test.sh uses (llama-server, llama-cli,
#                test-backend-ops, llama-perplexity, ...). Same build tree: reuses main's objects.
#     unpatched  the pinned tree WITHOUT patches/ (what a user's own llama.cpp is), only
#                libllama/ggml/ggml-cpu and llama-completion, in its own cached tree; laid out in
#                build/unpatched/bin/ (docs/unpatched-llama.md).
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

mode=${1:-main}
base_flags=(
  -DCMAKE_BUILD_TYPE=Release -G Ninja
  -DGGML_BACKEND_DL=ON -DBUILD_SHARED_LIBS=ON
  -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF
)
main_targets=(llama-completion llama-bench ggml-cpu ggml-rpc ggml-rpc-server)
test_targets=(llama-server llama-cli llama-perplexity llama-quantize test-backend-ops test-export-graph-ops)
case $mode in
  main)      cmake_flags=("${base_flags[@]}" -DLLAMA_BUILD_TESTS=ON -DGGML_RPC=ON); targets=("${main_targets[@]}") ;;
  tests)     cmake_flags=("${base_flags[@]}" -DLLAMA_BUILD_TESTS=ON -DGGML_RPC=ON); targets=("${main_targets[@]}" "${test_targets[@]}") ;;
  unpatched) cmake_flags=("${base_flags[@]}" -DLLAMA_BUILD_TESTS=OFF); targets=(llama-completion ggml-cpu) ;;
  *) echo "usage: $0 [main|tests|unpatched]" >&2; exit 2 ;;
esac

log() { echo "[setup-llama] $*" >&2; }

# ninja's "[N/M]" counter on stdin -> the full log in $1, one progress line every 5 % on stderr.
progress() {
  local logf=$1 next=0 t0=$SECONDS line n m pct
  : > "$logf"
  while IFS= read -r line; do
    printf '%s\n' "$line" >> "$logf"
    if [[ $line =~ ^\[([0-9]+)/([0-9]+)\] ]]; then
      n=${BASH_REMATCH[1]} m=${BASH_REMATCH[2]} pct=$((100 * BASH_REMATCH[1] / BASH_REMATCH[2]))
      if [ "$pct" -ge "$next" ] || [ "$n" = "$m" ]; then
        log "  $(printf '%3d' "$pct")% ($n/$m steps, $((SECONDS - t0)) s)"
        next=$((pct - pct % 5 + 5))
      fi
    fi
  done
}

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

key_extra=""; [ "$mode" = unpatched ] && key_extra=" unpatched"
key=$(printf '%s %s%s' "$pin_sha256" "${cmake_flags[*]}" "$key_extra" | sha256sum | cut -c1-16)
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
[ -e "${patches[0]}" ] && [ "$mode" != unpatched ] || patches=()
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
if [ "$mode" != unpatched ]; then
  mkdir -p "$here/vendor"
  ln -sfn "$root/src" "$here/vendor/llama.cpp"
fi

# 4. Configure and build (incremental).
if [ ! -f "$root/build/build.ninja" ]; then
  log "configuring (flags: ${cmake_flags[*]})"
  cmake -S "$root/src" -B "$root/build" "${cmake_flags[@]}" > "$root/configure.log" 2>&1 \
    || { tail -30 "$root/configure.log"; exit 1; }
fi
log "building ($mode) ${targets[*]} with $jobs jobs (cached in $root/build; full log: $root/build.log)"
if ! cmake --build "$root/build" -j "$jobs" --target "${targets[@]}" 2>&1 | progress "$root/build.log"; then
  tail -40 "$root/build.log"; exit 1
fi

# 5. build/bin/ in the work tree: the tools and the llama/ggml libraries, side by side.
#    Hard links where possible (same file system), copies otherwise.
bin=$here/build/bin
[ "$mode" = unpatched ] && bin=$here/build/unpatched/bin
mkdir -p "$bin"
for f in "$root/build/bin"/*; do
  [ -f "$f" ] || continue
  dst=$bin/$(basename "$f")
  if ! cmp -s "$f" "$dst" 2>/dev/null; then
    rm -f "$dst"
    ln "$f" "$dst" 2>/dev/null || cp -p "$f" "$dst"
  fi
done
if [ "$mode" = unpatched ]; then
  log "unpatched llama.cpp ready: $bin ($(ls "$bin" | wc -l) files)"
  exit 0
fi
# rpc-server is built as ggml-rpc-server; the name users know is rpc-server.
[ -f "$bin/ggml-rpc-server" ] && ln -sfn ggml-rpc-server "$bin/rpc-server"
echo "$root" > "$here/build/llama-root"
log "llama.cpp ready: $bin ($(ls "$bin" | wc -l) files)"
