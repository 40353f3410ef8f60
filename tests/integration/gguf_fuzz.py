"""GGUF fuzzing through `llama-completion --backend unicorn` (emulated): malformed model files
must end with an exit status and a message - no signal, no hang.

    python3 tests/integration/gguf_fuzz.py [--seed 1] [--scale 1.0] [--keep DIR]

Variants (seeded) of the Gemma 3 test model, and of the generated Gemma3n `tiny` for the
hyper-parameter cases:
  truncate     the file cut at offsets in the header, metadata, tensor table, around the data
               start and inside the data
  header       magic, version, tensor and KV counts set to wrong or absurd values
  meta-flip    a random byte of the metadata (KV section) xor-ed with a random mask
  table-flip   a random byte of the tensor-info table xor-ed with a random mask
  absurd       one field set to an absurd value: string and key lengths, array counts, KV and
               array element types, tensor dimension counts, dimensions, types, data offsets
  gemma3n      wrong hyper-parameters: zero heads, a head count that does not divide the width,
               more KV-sharing layers than layers, zero or huge layer counts...
Each variant is written to /dev/shm (the tensor data is copied unchanged) and run once with a
timeout and a 6 GiB address-space cap (so an absurd size fails as an allocation rather than
taking the machine's memory). Outcomes: `ok` (exit 0: the change did not matter to the
loader), `error` (exit != 0 with an error line), `silent` (exit != 0 without one), `signal`,
`timeout`. Only `ok` and `error` are acceptable, and `known-abort`: an abort in llama.cpp's own
frames that is reported upstream-side, listed in KNOWN_LLAMA_ABORTS by its exact message (the
plugin is not in the path; each is printed).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import signal
import struct
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ERROR_LINE = re.compile(r"error|failed|invalid|corrupt|exceed|not within|unable|cannot|bad|wrong|unknown", re.I)
ADDRESS_SPACE = 6 << 30
# Aborts in llama.cpp's frames, not the plugin's, that patches/ does not fix (yet):
#  - a norm weight stored in a quantized type (the fuzzer sets the tensor type): the loader
#    accepts it, the graph multiplies by it, and ggml-cpu, which claims every op, aborts in
#    binary_op at the first decode. Fixing it means type checks in llama.cpp's loader.
KNOWN_LLAMA_ABORTS = [re.compile(r"ggml-cpu/binary-ops\.cpp:\d+: binary_op: unsupported types: dst: f32, src0: f32, src1: \w+")]
ACCEPTED = ("ok", "error", "known-abort")
TIMEOUT = 120

# GGUF value types (gguf.h)
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
SCALAR_SIZE = {U8: 1, I8: 1, U16: 2, I16: 2, U32: 4, I32: 4, F32: 4, BOOL: 1, U64: 8, I64: 8, F64: 8}


@dataclass
class Kv:
    key: str
    at: int  # offset of the key's length
    type_at: int
    type: int
    value_at: int  # scalar value, string length, or array element type
    count_at: int | None = None  # arrays: offset of the element count
    elem_type: int | None = None
    count: int | None = None


@dataclass
class TensorInfo:
    name: str
    at: int
    n_dims_at: int
    dims_at: int
    n_dims: int
    type_at: int
    offset_at: int


@dataclass
class Layout:
    size: int
    n_tensors: int
    n_kv: int
    kvs: list[Kv] = field(default_factory=list)
    tensors: list[TensorInfo] = field(default_factory=list)
    kv_start: int = 24
    table_start: int = 0
    table_end: int = 0
    data_start: int = 0


def parse(buf: bytes) -> Layout:
    """Where every field of a well-formed GGUF (v3, little-endian) lies."""
    assert buf[:4] == b"GGUF", "not a GGUF file"
    n_tensors, n_kv = struct.unpack_from("<QQ", buf, 8)
    lay = Layout(len(buf), n_tensors, n_kv)
    o = 24

    def string(o):
        n = struct.unpack_from("<Q", buf, o)[0]
        return buf[o + 8:o + 8 + n].decode(errors="replace"), o + 8 + n

    for _ in range(n_kv):
        at = o
        key, o = string(o)
        t = struct.unpack_from("<I", buf, o)[0]
        kv = Kv(key, at, o, t, o + 4)
        o += 4
        if t == STR:
            _, o = string(o)
        elif t == ARR:
            et, cnt = struct.unpack_from("<IQ", buf, o)
            kv.elem_type, kv.count, kv.count_at = et, cnt, o + 4
            o += 12
            if et == STR:
                for _ in range(cnt):
                    _, o = string(o)
            else:
                o += SCALAR_SIZE[et] * cnt
        else:
            o += SCALAR_SIZE[t]
        lay.kvs.append(kv)
    lay.table_start = o
    for _ in range(n_tensors):
        at = o
        name, o = string(o)
        nd = struct.unpack_from("<I", buf, o)[0]
        ti = TensorInfo(name, at, o, o + 4, nd, o + 4 + 8 * nd, o + 8 + 8 * nd)
        o = ti.offset_at + 8
        lay.tensors.append(ti)
    lay.table_end = o
    align = 32
    for kv in lay.kvs:
        if kv.key == "general.alignment":
            align = struct.unpack_from("<I", buf, kv.value_at)[0]
    lay.data_start = (o + align - 1) // align * align
    return lay


@dataclass
class Variant:
    kind: str
    what: str
    base: str  # "gemma3" or "gemma3n"
    truncate: int | None = None
    edits: list[tuple[int, bytes]] = field(default_factory=list)


def put(fmt: str, at: int, value) -> tuple[int, bytes]:
    return at, struct.pack("<" + fmt, value)


def variants(lay: Layout, buf: bytes, rng: random.Random, scale: float, lay3n: Layout | None) -> list[Variant]:
    n = lambda k: max(1, round(k * scale))  # noqa: E731
    out: list[Variant] = []
    # truncations
    spots = ([rng.randrange(0, lay.table_start) for _ in range(n(25))]
             + [rng.randrange(lay.table_start, lay.table_end) for _ in range(n(15))]
             + [lay.data_start + d for d in (-32, -1, 0, 1, 31, 32, 4096)]
             + [rng.randrange(lay.data_start, lay.size) for _ in range(n(15))] + [0, 3, 4, 8, 23, 24, lay.size - 1])
    out += [Variant("truncate", f"cut at {s}", "gemma3", truncate=s) for s in sorted(set(spots))]
    # header fields
    for v in (b"GGUG", b"FUGG", b"\0\0\0\0"):
        out.append(Variant("header", f"magic {v!r}", "gemma3", edits=[(0, v)]))
    for v in (0, 1, 2, 4, 0xFFFFFFFF):
        out.append(Variant("header", f"version {v}", "gemma3", edits=[put("I", 4, v)]))
    for v in (0, 1, lay.n_tensors - 1, lay.n_tensors + 1, 1 << 31, 1 << 63, (1 << 64) - 1):
        out.append(Variant("header", f"n_tensors {v}", "gemma3", edits=[put("Q", 8, v)]))
    for v in (0, 1, lay.n_kv - 1, lay.n_kv + 1, 1 << 32, 1 << 63, (1 << 64) - 1):
        out.append(Variant("header", f"n_kv {v}", "gemma3", edits=[put("Q", 16, v)]))
    # random byte flips
    ends = [kv.at for kv in lay.kvs[1:]] + [lay.table_start]
    for _ in range(n(75)):  # a random KV entry (key, type or value), then a random byte of it
        i = rng.randrange(len(lay.kvs))
        at = rng.randrange(lay.kvs[i].at, ends[i])
        out.append(Variant("meta-flip", f"byte {at} of {lay.kvs[i].key} ^= mask", "gemma3",
                           edits=[(at, bytes([buf[at] ^ rng.randrange(1, 256)]))]))
    for _ in range(n(75)):
        ti = rng.choice(lay.tensors)
        at = rng.randrange(ti.at, ti.offset_at + 8)
        out.append(Variant("table-flip", f"byte {at} of {ti.name}'s info ^= mask", "gemma3",
                           edits=[(at, bytes([buf[at] ^ rng.randrange(1, 256)]))]))
    # absurd values
    huge = [0, 1 << 32, 1 << 62, (1 << 64) - 1]
    for kv in rng.sample(lay.kvs, min(len(lay.kvs), n(6))):
        v = rng.choice(huge[1:])
        out.append(Variant("absurd", f"key length of {kv.key} = {v}", "gemma3", edits=[put("Q", kv.at, v)]))
    for kv in rng.sample(lay.kvs, min(len(lay.kvs), n(4))):
        v = rng.choice([13, 99, 0xFFFFFFFF])
        out.append(Variant("absurd", f"type of {kv.key} = {v}", "gemma3", edits=[put("I", kv.type_at, v)]))
    strs = [kv for kv in lay.kvs if kv.type == STR]
    for kv in rng.sample(strs, min(len(strs), n(5))):
        v = rng.choice(huge[1:])
        out.append(Variant("absurd", f"string length of {kv.key} = {v}", "gemma3", edits=[put("Q", kv.value_at, v)]))
    arrs = [kv for kv in lay.kvs if kv.type == ARR]
    for kv in arrs:
        for v in (0, kv.count - 1, kv.count + 1, 1 << 40, (1 << 64) - 1):
            out.append(Variant("absurd", f"count of {kv.key} = {v}", "gemma3", edits=[put("Q", kv.count_at, v)]))
        for v in (ARR, 13, 99):
            out.append(Variant("absurd", f"element type of {kv.key} = {v}", "gemma3", edits=[put("I", kv.value_at, v)]))
    for ti in rng.sample(lay.tensors, n(8)):
        v = rng.choice([0, 5, 255, 0xFFFFFFFF])
        out.append(Variant("absurd", f"n_dims of {ti.name} = {v}", "gemma3", edits=[put("I", ti.n_dims_at, v)]))
    for ti in rng.sample(lay.tensors, n(10)):
        d, v = rng.randrange(ti.n_dims), rng.choice([0, 3, 1 << 40, 1 << 62, (1 << 64) - 1])
        out.append(Variant("absurd", f"dim {d} of {ti.name} = {v}", "gemma3", edits=[put("Q", ti.dims_at + 8 * d, v)]))
    for ti in rng.sample(lay.tensors, n(6)):
        v = rng.choice([4, 5, 40, 99, 1 << 31])
        out.append(Variant("absurd", f"type of {ti.name} = {v}", "gemma3", edits=[put("I", ti.type_at, v)]))
    for ti in rng.sample(lay.tensors, n(6)):
        cur = struct.unpack_from("<Q", buf, ti.offset_at)[0]
        v = rng.choice([cur + 1, cur + 32, lay.size, 1 << 60, (1 << 64) - 64])
        out.append(Variant("absurd", f"data offset of {ti.name} = {v}", "gemma3", edits=[put("Q", ti.offset_at, v)]))
    # gemma3n hyper-parameters
    if lay3n is not None:
        def kv3n(name):
            return next((k for k in lay3n.kvs if k.key == f"gemma3n.{name}"), None)
        hp = [("attention.head_count", [0, 3, 1 << 20]), ("attention.head_count_kv", [0, 3, 1000]),
              ("embedding_length", [0, 250, 1 << 30]), ("block_count", [0, 1, 1000]),
              ("attention.shared_kv_layers", [23, 1000]), ("attention.key_length", [0, 3]),
              ("attention.value_length", [0]), ("feed_forward_length", [0]),
              ("attention.sliding_window", [0]), ("altup.num_inputs", [0, 1000]),
              ("embedding_length_per_layer_input", [0, 1 << 20])]
        for name, values in hp:
            kv = kv3n(name)
            if kv is None or kv.type not in (U32, I32, ARR):
                continue
            at = kv.value_at if kv.type != ARR else kv.count_at + 8  # arrays: the first element
            et = kv.type if kv.type != ARR else kv.elem_type
            if et not in (U32, I32):
                continue
            for v in values:
                out.append(Variant("gemma3n", f"{name} = {v}", "gemma3n", edits=[put("I", at, v)]))
    return out


def _limit():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@dataclass
class Run:
    variant: Variant
    outcome: str
    rc: int | None
    seconds: float
    line: str


def run_variant(v: Variant, src: dict[str, bytes], path: Path) -> Run:
    write_variant(v, src, path)
    env = {k: val for k, val in os.environ.items() if not k.startswith(("UNICORN_", "GGML_", "LLAMA_ARG_"))}
    env.update(UNICORN_EMULATE="1", GGML_CPU_USE_REF="1")
    cmd = [str(REPO / "build" / "bin" / "llama-completion"), "-m", str(path), "--backend", "unicorn", "-nr",
           "-p", "Hi", "-n", "2", "-c", "256", "-no-cnv", "-t", "2", "-fit", "off",
           "--no-log-prefix", "--no-log-timestamps", "--log-colors", "off"]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                         start_new_session=True, preexec_fn=_limit)
    try:
        out, _ = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        return Run(v, "timeout", None, time.monotonic() - t0, "")
    text = out.decode(errors="replace")
    dt = time.monotonic() - t0
    errs = [l for l in text.splitlines() if ERROR_LINE.search(l) and "print_info" not in l]
    # the most specific line: the loader's reason, else the first error line
    why = [l for l in errs if "error loading model:" in l or l.startswith(("gguf_", "llama_model_load:"))]
    last = (why or errs or text.strip().splitlines() or [""])[0]
    if p.returncode < 0:
        known = next((m.group(0) for rx in KNOWN_LLAMA_ABORTS if (m := rx.search(text))), None)
        if known and p.returncode == -signal.SIGABRT:
            return Run(v, "known-abort", p.returncode, dt, known)
        why = [l for l in text.splitlines() if re.search(r"GGML_ASSERT|terminate|what\(\)|panicked|fatal", l)]
        tail = " | ".join(why[:3] or text.strip().splitlines()[-3:])
        return Run(v, "signal", p.returncode, dt, f"{signal.Signals(-p.returncode).name}: {tail}")
    if p.returncode == 0:
        return Run(v, "ok", 0, dt, last)
    return Run(v, "error" if errs else "silent", p.returncode, dt, last)


def write_variant(v: Variant, src: dict[str, bytes], path: Path) -> None:
    data = src[v.base]
    with open(path, "wb") as f:
        if v.truncate is not None:
            f.write(memoryview(data)[:v.truncate])
        else:
            f.write(data)
            for at, b in v.edits:
                f.seek(at)
                f.write(b)


def fuzz(model: Path, gemma3n: Path | None, seed: int = 1, scale: float = 1.0, log=print,
         only: list[int] | None = None, keep: Path | None = None) -> list[Run]:
    src = {"gemma3": model.read_bytes()}
    lay = parse(src["gemma3"])
    lay3n = None
    if gemma3n is not None:
        src["gemma3n"] = gemma3n.read_bytes()
        lay3n = parse(src["gemma3n"])
    vs = variants(lay, src["gemma3"], random.Random(seed), scale, lay3n)
    log(f"{len(vs)} variants of {model.name}" + (f" and {gemma3n.name}" if gemma3n else ""))
    if keep is not None:  # write the chosen variants for a closer look, run nothing
        for i in only or range(len(vs)):
            write_variant(vs[i], src, keep / f"variant-{i}.gguf")
            log(f"  {keep / f'variant-{i}.gguf'}: {vs[i].kind}: {vs[i].what}")
        return []
    if only is not None:
        vs = [vs[i] for i in only]
    runs = []
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as d:
        path = Path(d) / "variant.gguf"
        for i, v in enumerate(vs):
            r = run_variant(v, src, path)
            runs.append(r)
            if r.outcome not in ("ok", "error"):
                log(f"  [{i}] {v.kind}: {v.what}: {r.outcome} (rc {r.rc}) {r.line[:300]}")
            if (i + 1) % 50 == 0:
                log(f"  {i + 1}/{len(vs)} done: {dict(Counter(x.outcome for x in runs))}")
    return runs


def summary(runs: list[Run]) -> str:
    by_kind: dict[str, Counter] = {}
    for r in runs:
        by_kind.setdefault(r.variant.kind, Counter())[r.outcome] += 1
    total = Counter(r.outcome for r in runs)
    lines = [f"GGUF fuzz: {len(runs)} variants: " + ", ".join(f"{k} {v}" for k, v in sorted(total.items()))]
    for kind, c in by_kind.items():
        lines.append(f"  {kind:11s} {sum(c.values()):4d}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    slow = max(runs, key=lambda r: r.seconds)
    lines.append(f"  slowest run {slow.seconds:.1f} s ({slow.variant.kind}: {slow.variant.what})")
    msgs = Counter(re.sub(r"\d+", "N", r.line)[:110] for r in runs if r.outcome == "error")
    lines.append("  most common error lines: " + " || ".join(f"{n} x {m}" for m, n in msgs.most_common(6)))
    return "\n".join(lines)


def main() -> int:
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the number of random variants")
    ap.add_argument("--no-gemma3n", action="store_true")
    ap.add_argument("--only", type=lambda s: [int(x) for x in s.split(",")], help="run these variant numbers")
    ap.add_argument("--keep", type=Path, help="write the (--only) variants into this folder, run nothing")
    args = ap.parse_args()
    model = Path(subprocess.run(["bash", str(REPO / "scripts" / "fetch-model.sh")], capture_output=True, text=True,
                                check=True).stdout.split()[-1])
    g3n = None
    if not args.no_gemma3n:
        from conftest import generate_gemma3n
        g3n = generate_gemma3n(model, "tiny", ["--preset", "tiny", "--seed", "7"])
    runs = fuzz(model, g3n, args.seed, args.scale, log=lambda s: print(s, flush=True), only=args.only, keep=args.keep)
    if not runs:
        return 0
    print(summary(runs))
    bad = [r for r in runs if r.outcome not in ACCEPTED]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
