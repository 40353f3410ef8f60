#!/usr/bin/env python3
"""Write a synthetic Gemma3n GGUF (llama.cpp architecture `gemma3n`): seeded random weights,
the exact tensor set, shapes and hyper-parameters llama.cpp's gemma3n loader expects, and the
real Gemma 3 tokenizer copied from a Gemma 3 GGUF.

No Gemma3n weights are reachable from this project's machines, so benchmarks and tests of the
Gemma3n graph (per-layer embeddings, AltUp, LAuReL, KV sharing, activation sparsity, sliding
window + global attention, final logit soft-cap) run on these files. Random weights give
meaningless text: judge a backend against the CPU backend on the same file (logits, greedy
tokens, perplexity), never by reading the output.

Requirements: Python 3.11, numpy, and gguf-py from the fetched llama.cpp tree
(vendor/llama.cpp/gguf-py; this script puts it on sys.path itself, so no `pip install gguf`
is needed; `pip install numpy` is). --quantize also needs build/bin/llama-quantize.

Usage:
  scripts/gen-gemma3n.py -o /tmp/tiny.gguf                      # preset tiny (default)
  scripts/gen-gemma3n.py --preset e2b -o /tmp/e2b-f16.gguf       # real E2B dimensions, F16
  scripts/gen-gemma3n.py --preset e2b --quantize Q4_K_M -o /tmp/e2b-q4_k_m.gguf
  scripts/gen-gemma3n.py --preset e4b --dry-run                  # sizes only, writes nothing
  scripts/gen-gemma3n.py --layers 25 --ffn 512 --seed 7 -o /tmp/x.gguf   # override a preset

Presets (every dimension can be overridden on the command line):
  tiny  22 layers, hidden 256, 4 heads, 2 KV heads, head_dim 64, FFN 1024, sliding window 64,
        global layers 4,9,14,19 (every 5th, as in E2B) + 21 (so that both kinds of KV-sharing
        layer exist: 20 reuses layer 18's SWA cache, 21 reuses layer 19's global cache);
        token_embd written as Q8_0 and per_layer_token_embd as Q4_0 (both tables have
        262144 rows and are most of the file: 256 x 22 x 262144 per-layer values alone);
        963 MB, or 340 MB with --ple-type q1_0. The window is 64 rather than 512 so that
        short test prompts (perplexity -c 128) already slide past it.
  e2b   30 layers, hidden 2048, 8 heads, 2 KV heads, head_dim 256, FFN 8192, window 512,
        every 5th layer global; all 2-D tensors in --type (8.92 GB at F16, 4.46 G params).
  e4b   35 layers, FFN 16384, otherwise as e2b (13.74 GB at F16, 6.87 G params).

What llama.cpp's gemma3n code fixes (vendor/llama.cpp/src/models/gemma3n.cpp, llama-hparams.h),
and this script therefore checks rather than lets you change:
  - per-layer input width n_embd_altup = 256, AltUp inputs = 4, active AltUp index 0,
    LAuReL rank = 64: hard-coded hparams, the GGUF keys are not read;
  - the first 20 layers own a KV cache (n_layer_kv_from_start = 20, the shared_kv_layers key
    is not read); every later layer reuses layer 18 (if SWA) or 19 (if global), so there must
    be more than 20 layers, layer 18 must be SWA and layer 19 global;
  - activation sparsity (gaussian top-k, std multiplier 1.6448533) on the first 10 layers;
  - final logit soft-cap 30.0 (the key is not read for gemma3n; written for completeness);
  - attention scale 1.0 (Q and K are RMS-normed per head instead).
The per-layer SWA/global pattern IS read (gemma3n.attention.sliding_window_pattern, a bool
array, as a real conversion writes it), as are the window, the two RoPE bases and the RMS eps.

Values: matrices are normal(0, 1/sqrt(fan_in)); norm weights normal(1, 0.1); Q/K norm weights
are centred on sqrt(2/sqrt(head_dim)) so that attention logits have a standard deviation of
about 2 (llama.cpp's gemma3n attention has scale 1.0); the AltUp router is scaled so that its
tanh sees inputs of about 0.5; the embedding tables are scaled so that llama.cpp's sqrt(n)
input scaling gives unit-variance inputs. Quantised embedding tables are written as random
valid blocks directly (fast), with per-block scales varying by +-50% so that kernels that mix
up block scales give wrong results. Every tensor is generated in fixed-size chunks, each from
its own generator seeded by (--seed, tensor name, chunk index): the file depends on the seed
and the dimensions only, not on --threads. Data is streamed to disk chunk by chunk (gguf-py's
GGUFWriter writes the header, metadata and tensor infos; the data follow with its alignment),
so memory stays at a few hundred MB whatever the model size.

Exit status: 0 on success, 2 on a malformed request (message on stderr), 1 on other errors.
"""

from __future__ import annotations

import argparse
import math
import mmap
import os
import struct
import subprocess
import sys
import time
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "vendor" / "llama.cpp" / "gguf-py"))

try:
    import numpy as np
except ImportError:  # pragma: no cover
    sys.exit("gen-gemma3n: numpy is required (pip install numpy)")
try:
    import gguf  # noqa: E402  (vendor/llama.cpp/gguf-py)
    from gguf import GGMLQuantizationType as QT, GGUFValueType as VT
except ImportError as e:  # pragma: no cover
    sys.exit(f"gen-gemma3n: cannot import gguf-py from {REPO}/vendor/llama.cpp/gguf-py ({e}); "
             "run scripts/setup-llama.sh first")

ARCH = "gemma3n"

# Fixed by llama.cpp's gemma3n implementation (see the docstring).
N_EMBD_ALTUP = 256          # hparams.n_embd_altup
N_ALTUP = 4                 # hparams.n_altup
I_ALTUP_ACT = 0             # hparams.i_altup_act
LAUREL_RANK = 64            # hparams.laurel_rank
N_LAYER_KV_FROM_START = 20  # gemma3n.cpp: hparams.n_layer_kv_from_start
N_LAYER_SPARSITY = 10       # gemma3n graph: n_layer_sparsity
SPARSITY_STD_MUL = 1.6448533535003662  # normal icdf(0.95), what the converter writes
LLAMA_MAX_LAYERS = 512

PRESETS: dict[str, dict] = {
    "tiny": dict(layers=22, hidden=256, heads=4, kv_heads=2, head_dim=64, ffn=1024,
                 sliding_window=64, global_every=5, global_last=True,
                 embd_type="q8_0", ple_type="q4_0", size_label="tiny"),
    "e2b": dict(layers=30, hidden=2048, heads=8, kv_heads=2, head_dim=256, ffn=8192,
                sliding_window=512, global_every=5, global_last=False,
                embd_type=None, ple_type=None, size_label="E2B"),
    "e4b": dict(layers=35, hidden=2048, heads=8, kv_heads=2, head_dim=256, ffn=16384,
                sliding_window=512, global_every=5, global_last=False,
                embd_type=None, ple_type=None, size_label="E4B"),
}
COMMON = dict(per_layer_input=N_EMBD_ALTUP, context_length=32768, rope_base=1_000_000.0,
              rope_base_swa=10_000.0, rms_eps=1e-6, softcap=30.0)

# Written tensor types. Float types come from normal samples; quantised ones are random blocks.
TYPES = {
    "f32": QT.F32, "f16": QT.F16, "bf16": QT.BF16,
    "q8_0": QT.Q8_0, "q4_0": QT.Q4_0, "q1_0": QT.Q1_0,
}
FLOAT_TYPES = ("f32", "f16", "bf16")
QUANTIZE_TYPES = ("Q4_0", "Q4_K_M", "Q8_0")
FTYPE = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
         "bf16": gguf.LlamaFileType.MOSTLY_BF16}

CHUNK_ELEMS = 1 << 22  # elements per generated chunk (fixed: part of the seed schedule)


class UsageError(Exception):
    """A malformed request: exit status 2."""


# ----------------------------------------------------------------------------------------
# tokenizer metadata: a minimal GGUF key/value reader (gguf-py's GGUFReader takes ~10 s on the
# 262144-token vocabulary because it maps every tensor and field part; this reads only KVs)

_SCALAR = {VT.UINT8: "<B", VT.INT8: "<b", VT.UINT16: "<H", VT.INT16: "<h", VT.UINT32: "<I",
           VT.INT32: "<i", VT.FLOAT32: "<f", VT.BOOL: "<?", VT.UINT64: "<Q", VT.INT64: "<q",
           VT.FLOAT64: "<d"}
_NP = {VT.UINT8: "<u1", VT.INT8: "<i1", VT.UINT16: "<u2", VT.INT16: "<i2", VT.UINT32: "<u4",
       VT.INT32: "<i4", VT.FLOAT32: "<f4", VT.BOOL: "<u1", VT.UINT64: "<u8", VT.INT64: "<i8",
       VT.FLOAT64: "<f8"}


def read_gguf_kv(path: Path) -> dict[str, tuple]:
    """{key: (value_type, value, array_sub_type)}; string arrays as lists of bytes."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        if m[:4] != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        version, _n_tensors, n_kv = struct.unpack_from("<IQQ", m, 4)
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is too old")
        off = 24

        def string(o):
            (n,) = struct.unpack_from("<Q", m, o)
            return m[o + 8:o + 8 + n], o + 8 + n

        out = {}
        for _ in range(n_kv):
            key, off = string(off)
            (vt,) = struct.unpack_from("<I", m, off)
            off += 4
            vt = VT(vt)
            sub = None
            if vt == VT.STRING:
                val, off = string(off)
            elif vt == VT.ARRAY:
                sub, n = struct.unpack_from("<IQ", m, off)
                off += 12
                sub = VT(sub)
                if sub == VT.STRING:
                    val = []
                    for _ in range(n):
                        s, off = string(off)
                        val.append(s)
                elif sub in _NP:
                    dt = np.dtype(_NP[sub])
                    val = np.frombuffer(m, dtype=dt, count=n, offset=off).copy()
                    off += n * dt.itemsize
                else:
                    raise ValueError(f"{path}: nested array in key {key!r}")
            else:
                (val,) = struct.unpack_from(_SCALAR[vt], m, off)
                off += struct.calcsize(_SCALAR[vt])
            out[key.decode()] = (vt, val, sub)
        return out


def tokenizer_kv(path: Path) -> tuple[dict[str, tuple], int]:
    kv = read_gguf_kv(path)
    tok = {k: v for k, v in kv.items() if k.startswith("tokenizer.")}
    if "tokenizer.ggml.tokens" not in tok:
        raise UsageError(f"{path} has no tokenizer.ggml.tokens")
    n_vocab = len(tok["tokenizer.ggml.tokens"][1])
    return tok, n_vocab


# ----------------------------------------------------------------------------------------
# the model description


@dataclass
class Config:
    preset: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    per_layer_input: int
    sliding_window: int
    swa: list[bool]           # per layer: True = sliding window, False = global
    context_length: int
    rope_base: float
    rope_base_swa: float
    rms_eps: float
    softcap: float
    ftype: str                # f32 | f16 | bf16: every other 2-D weight
    embd_type: str            # token_embd (also the output head: tied)
    ple_type: str             # per_layer_token_embd
    size_label: str
    n_vocab: int = 262144


@dataclass
class Spec:
    name: str
    ne: tuple[int, ...]       # ggml order (ne[0] = row length)
    qtype: str                # key of TYPES
    mean: float = 0.0
    std: float = 1.0

    @property
    def n(self) -> int:
        return math.prod(self.ne)

    @property
    def nbytes(self) -> int:
        bs, ts = gguf.GGML_QUANT_SIZES[TYPES[self.qtype]]
        return self.n // bs * ts


def tensor_specs(c: Config) -> list[Spec]:
    L, E, A = c.layers, c.hidden, c.per_layer_input
    qd, kvd = c.head_dim * c.heads, c.head_dim * c.kv_heads
    w = c.ftype
    inv = lambda n: 1.0 / math.sqrt(n)  # noqa: E731
    norm = dict(qtype="f32", mean=1.0, std=0.1)
    qk_c = math.sqrt(2.0 / math.sqrt(c.head_dim))  # attention logits std ~2 at scale 1.0

    s = [
        Spec("token_embd.weight", (E, c.n_vocab), c.embd_type, std=inv(E)),
        Spec("per_layer_token_embd.weight", (A * L, c.n_vocab), c.ple_type, std=inv(A)),
        Spec("per_layer_model_proj.weight", (E, A * L), w, std=inv(E)),
        Spec("per_layer_proj_norm.weight", (A,), **norm),
        Spec("altup_proj.weight", (E, E, N_ALTUP - 1), w, std=inv(E)),
        Spec("altup_unembd_proj.weight", (E, E, N_ALTUP - 1), w, std=inv(E)),
        Spec("output_norm.weight", (E,), **norm),
    ]
    for i in range(L):
        b = f"blk.{i}."
        s += [
            Spec(b + "attn_norm.weight", (E,), **norm),
            Spec(b + "attn_q.weight", (E, qd), w, std=inv(E)),
            Spec(b + "attn_k.weight", (E, kvd), w, std=inv(E)),
            Spec(b + "attn_v.weight", (E, kvd), w, std=inv(E)),
            Spec(b + "attn_output.weight", (qd, E), w, std=inv(qd)),
            Spec(b + "attn_q_norm.weight", (c.head_dim,), "f32", mean=qk_c, std=0.1 * qk_c),
            Spec(b + "attn_k_norm.weight", (c.head_dim,), "f32", mean=qk_c, std=0.1 * qk_c),
            Spec(b + "post_attention_norm.weight", (E,), **norm),
            Spec(b + "ffn_norm.weight", (E,), **norm),
            Spec(b + "ffn_gate.weight", (E, c.ffn), w, std=inv(E)),
            Spec(b + "ffn_up.weight", (E, c.ffn), w, std=inv(E)),
            Spec(b + "ffn_down.weight", (c.ffn, E), w, std=inv(c.ffn)),
            Spec(b + "post_ffw_norm.weight", (E,), **norm),
            Spec(b + "inp_gate.weight", (E, A), w, std=inv(E)),
            Spec(b + "proj.weight", (A, E), w, std=inv(A)),
            Spec(b + "post_norm.weight", (E,), **norm),
            # the converter keeps these two F32 whatever the file type
            Spec(b + "altup_correct_coef.weight", (N_ALTUP, N_ALTUP), "f32", std=0.1),
            Spec(b + "altup_correct_scale.weight", (E,), **norm),
            Spec(b + "altup_predict_coef.weight", (N_ALTUP, N_ALTUP * N_ALTUP), "f32", std=0.1),
            # router input is rms_norm(x) / n_embd: this std puts tanh's input at ~0.5
            Spec(b + "altup_router.weight", (E, N_ALTUP), w, std=0.5 * math.sqrt(E)),
            Spec(b + "altup_router_norm.weight", (E,), **norm),
            Spec(b + "laurel_l.weight", (E, LAUREL_RANK), w, std=inv(E)),
            Spec(b + "laurel_r.weight", (LAUREL_RANK, E), w, std=inv(LAUREL_RANK)),
            Spec(b + "laurel_post_norm.weight", (E,), **norm),
        ]
    return s


def break_specs(specs: list[Spec], omit: list[str], wrong: list[str]) -> list[Spec]:
    """Deliberately malformed models for tests: drop tensors, or halve a dimension of others."""
    names = {sp.name for sp in specs}
    for n in omit + wrong:
        if n not in names:
            raise UsageError(f"no tensor named {n!r} in this model")
    out = []
    for sp in specs:
        if sp.name in omit:
            continue
        if sp.name in wrong:
            ne = (sp.ne[0], max(1, sp.ne[1] // 2)) + sp.ne[2:] if len(sp.ne) > 1 else (sp.ne[0] * 2,)
            sp = replace(sp, ne=ne)
        out.append(sp)
    return out


def check_names_known(specs: list[Spec]) -> None:
    """Every tensor name must be one gguf-py lists for MODEL_ARCH.GEMMA3N."""
    known = set()
    for t in gguf.MODEL_TENSORS[gguf.MODEL_ARCH.GEMMA3N]:
        known.add(gguf.TENSOR_NAMES[t].replace("{bid}", "N"))
    for sp in specs:
        base = sp.name.rsplit(".", 1)[0]
        parts = base.split(".")
        if parts[0] == "blk":
            parts[1] = "N"
        if ".".join(parts) not in known:
            raise AssertionError(f"tensor {sp.name} is not a gguf-py gemma3n tensor")


# ----------------------------------------------------------------------------------------
# data


def _rng(seed: int, name: str, chunk: int) -> np.random.Generator:
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(zlib.crc32(name.encode()), chunk))
    return np.random.Generator(np.random.PCG64(ss))


def _f32_to_bf16(x: np.ndarray) -> np.ndarray:
    u = x.view(np.uint32)
    return ((u + (0x7FFF + ((u >> 16) & 1))) >> 16).astype(np.uint16)


def _block_scales(rng, nb: int, base: float) -> np.ndarray:
    # per-block scales vary by +-50%, normalised so that the values keep the wanted std
    f = rng.uniform(0.5, 1.5, nb).astype(np.float32) / np.float32(math.sqrt(13.0 / 12.0))
    return (f * np.float32(base)).astype(np.float16).view(np.uint8).reshape(nb, 2)


def gen_chunk(sp: Spec, seed: int, chunk: int, n: int) -> np.ndarray:
    """n elements (a whole number of rows) of tensor sp, as the bytes to write."""
    rng = _rng(seed, sp.name, chunk)
    t = sp.qtype
    if t in FLOAT_TYPES:
        x = rng.standard_normal(n, dtype=np.float32)
        x *= np.float32(sp.std)
        if sp.mean:
            x += np.float32(sp.mean)
        if t == "f32":
            return x
        if t == "f16":
            return x.astype(np.float16)
        return _f32_to_bf16(x)
    if t == "q8_0":      # {f16 d; i8 qs[32]}, value = d * q
        nb = n // 32
        out = np.empty((nb, 34), np.uint8)
        out[:, :2] = _block_scales(rng, nb, sp.std / math.sqrt((255 ** 2 - 1) / 12))
        out[:, 2:] = rng.integers(-127, 128, (nb, 32), dtype=np.int8).view(np.uint8)
        return out
    if t == "q4_0":      # {f16 d; u8 qs[16]}, value = d * (nibble - 8); nibbles 1..15
        nb = n // 32
        out = np.empty((nb, 18), np.uint8)
        out[:, :2] = _block_scales(rng, nb, sp.std / math.sqrt((15 ** 2 - 1) / 12))
        q = rng.integers(0, 15 * 15, (nb, 16), dtype=np.uint8)  # one draw per nibble pair
        out[:, 2:] = (q % 15 + 1) | ((q // 15 + 1) << 4)
        return out
    if t == "q1_0":      # {f16 d; u8 qs[16]}, value = bit ? d : -d
        nb = n // 128
        out = np.empty((nb, 18), np.uint8)
        out[:, :2] = _block_scales(rng, nb, sp.std)
        out[:, 2:] = rng.integers(0, 256, (nb, 16), dtype=np.uint8)
        return out
    raise AssertionError(t)


def chunk_plan(sp: Spec) -> list[int]:
    """Element counts of the chunks of sp (whole rows, about CHUNK_ELEMS each)."""
    row = sp.ne[0]
    rows = sp.n // row
    per = max(1, CHUNK_ELEMS // row)
    return [min(per, rows - r) * row for r in range(0, rows, per)]


# ----------------------------------------------------------------------------------------
# metadata


def add_metadata(wr: gguf.GGUFWriter, c: Config, seed: int, tok: dict[str, tuple]) -> None:
    wr.add_type("model")
    wr.add_name(f"Gemma3n synthetic {c.size_label}")
    wr.add_basename("gemma-3n-synthetic")
    wr.add_size_label(c.size_label)
    wr.add_description(
        f"Synthetic Gemma3n with seeded random weights (seed {seed}, preset {c.preset}), written "
        f"by the Unicorn project's scripts/gen-gemma3n.py for tests and benchmarks; not a "
        f"trained model. Tokenizer copied from a Gemma 3 GGUF.")

    wr.add_context_length(c.context_length)
    wr.add_embedding_length(c.hidden)
    wr.add_block_count(c.layers)
    wr.add_feed_forward_length(c.ffn)
    wr.add_head_count(c.heads)
    wr.add_head_count_kv(c.kv_heads)
    wr.add_key_length(c.head_dim)
    wr.add_value_length(c.head_dim)
    wr.add_layer_norm_rms_eps(c.rms_eps)
    wr.add_rope_freq_base(c.rope_base)
    wr.add_rope_freq_base_swa(c.rope_base_swa)
    wr.add_sliding_window(c.sliding_window)
    wr.add_final_logit_softcapping(c.softcap)
    # gemma3n specifics, as conversion/gemma.py (Gemma3NModel) writes them
    wr.add_altup_active_idx(I_ALTUP_ACT)
    wr.add_altup_num_inputs(N_ALTUP)
    wr.add_embedding_length_per_layer_input(c.per_layer_input)
    wr.add_shared_kv_layers(c.layers - N_LAYER_KV_FROM_START)
    # icdf(0.95) for the sparse layers, icdf(0.0) = -inf for the others (converter's values)
    wr.add_activation_sparsity_scale(
        [SPARSITY_STD_MUL if i < N_LAYER_SPARSITY else float("-inf") for i in range(c.layers)])
    wr.add_sliding_window_pattern(list(c.swa))
    wr.add_file_type(FTYPE[c.ftype])
    wr.add_quantization_version(gguf.GGML_QUANT_VERSION)

    for key, (vt, val, sub) in tok.items():
        if vt == VT.ARRAY:
            wr.add_key_value(key, val if isinstance(val, list) else val.tolist(), vt, sub_type=sub)
        else:
            wr.add_key_value(key, val, vt)


# ----------------------------------------------------------------------------------------
# command line


def parse_int_list(s: str) -> list[int]:
    try:
        return sorted({int(x) for x in s.split(",") if x.strip() != ""})
    except ValueError:
        raise UsageError(f"--global-layers: not a comma-separated list of integers: {s!r}")


def build_config(args, n_vocab: int) -> Config:
    p = {**COMMON, **PRESETS[args.preset]}
    for k in ("layers", "hidden", "heads", "kv_heads", "head_dim", "ffn", "per_layer_input",
              "sliding_window", "global_every", "context_length", "rope_base",
              "rope_base_swa", "rms_eps", "softcap", "embd_type", "ple_type"):
        v = getattr(args, k)
        if v is not None:
            p[k] = v
    if args.global_last is not None:
        p["global_last"] = args.global_last

    for k in ("layers", "hidden", "heads", "kv_heads", "head_dim", "ffn", "per_layer_input",
              "sliding_window", "global_every", "context_length"):
        if p[k] <= 0:
            raise UsageError(f"--{k.replace('_', '-')} must be positive (got {p[k]})")
    for k in ("rope_base", "rope_base_swa", "rms_eps", "softcap"):
        if not (p[k] > 0 and math.isfinite(p[k])):
            raise UsageError(f"--{k.replace('_', '-')} must be a positive number (got {p[k]})")

    L = p["layers"]
    if p["per_layer_input"] != N_EMBD_ALTUP:
        raise UsageError(
            f"--per-layer-input {p['per_layer_input']}: llama.cpp's gemma3n hard-codes the "
            f"per-layer input width n_embd_altup = {N_EMBD_ALTUP} (llama-hparams.h) and does "
            f"not read gemma3n.embedding_length_per_layer_input; only {N_EMBD_ALTUP} loads")
    if L <= N_LAYER_KV_FROM_START:
        raise UsageError(
            f"--layers {L}: llama.cpp's gemma3n gives the first {N_LAYER_KV_FROM_START} layers "
            f"their own KV cache and makes later layers reuse it; at least "
            f"{N_LAYER_KV_FROM_START + 1} layers are needed for KV-sharing layers to exist")
    if L > LLAMA_MAX_LAYERS:
        raise UsageError(f"--layers {L}: llama.cpp allows at most {LLAMA_MAX_LAYERS}")
    if (args.hidden is not None or args.heads is not None) and args.head_dim is None:
        # hidden/heads given without a head size: derive it (the presets have
        # hidden = heads * head_dim); an explicit --head-dim may differ, as in llama.cpp
        if p["hidden"] % p["heads"] != 0:
            raise UsageError(f"--heads {p['heads']} does not divide --hidden {p['hidden']} "
                             f"(give --head-dim explicitly for a head size of your own)")
        p["head_dim"] = p["hidden"] // p["heads"]
    if p["heads"] % p["kv_heads"] != 0:
        raise UsageError(f"--kv-heads {p['kv_heads']} does not divide --heads {p['heads']} "
                         f"(grouped-query attention needs n_head % n_head_kv == 0)")
    if p["head_dim"] % 2 != 0:
        raise UsageError(f"--head-dim {p['head_dim']} must be even (NeoX RoPE rotates pairs)")
    if p["ffn"] < 2:
        raise UsageError("--ffn must be at least 2 (activation sparsity takes a sample std)")

    if args.global_layers is not None:
        glob = parse_int_list(args.global_layers)
        bad = [g for g in glob if not 0 <= g < L]
        if bad:
            raise UsageError(f"--global-layers: {bad} outside 0..{L - 1}")
        swa = [i not in glob for i in range(L)]
    else:
        n = p["global_every"]
        swa = [i % n != n - 1 for i in range(L)]
        if p["global_last"]:
            swa[L - 1] = False
    k = N_LAYER_KV_FROM_START
    if not (swa[k - 2] and not swa[k - 1]):
        raise UsageError(
            f"layer {k - 2} must be sliding-window and layer {k - 1} global: llama.cpp's gemma3n "
            f"KV sharing makes every layer from {k} on reuse layer {k - 2} (SWA) or {k - 1} "
            f"(global); got layer {k - 2} {'SWA' if swa[k - 2] else 'global'}, layer {k - 1} "
            f"{'SWA' if swa[k - 1] else 'global'} (use --global-every N with N dividing {k}, "
            f"or --global-layers)")

    ftype = args.type
    embd = p["embd_type"] or ftype
    ple = p["ple_type"] or ftype
    for opt, t, row in (("--embd-type", embd, p["hidden"]),
                        ("--ple-type", ple, N_EMBD_ALTUP * L)):
        if t not in TYPES:
            raise UsageError(f"{opt} {t!r}: choose from {', '.join(TYPES)}")
        bs = gguf.GGML_QUANT_SIZES[TYPES[t]][0]
        if row % bs:
            raise UsageError(f"{opt} {t}: rows of {row} elements are not a whole number of "
                             f"{bs}-element blocks")

    return Config(preset=args.preset, layers=L, hidden=p["hidden"], heads=p["heads"],
                  kv_heads=p["kv_heads"], head_dim=p["head_dim"], ffn=p["ffn"],
                  per_layer_input=p["per_layer_input"], sliding_window=p["sliding_window"],
                  swa=swa, context_length=p["context_length"], rope_base=p["rope_base"],
                  rope_base_swa=p["rope_base_swa"], rms_eps=p["rms_eps"], softcap=p["softcap"],
                  ftype=ftype, embd_type=embd, ple_type=ple, size_label=p["size_label"],
                  n_vocab=n_vocab)


def default_tokenizer_path() -> Path:
    cache = Path(os.environ.get("UNICORN_CACHE", Path.home() / ".cache" / "unicorn"))
    return cache / "model" / "gemma-3-270m-q4_k_m.gguf"


def make_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="gen-gemma3n.py",
        description="Write a synthetic Gemma3n GGUF (seeded random weights, real Gemma 3 "
                    "tokenizer). See the module docstring for what llama.cpp fixes.")
    ap.add_argument("-o", "--output", type=Path, help="GGUF to write (required unless --dry-run)")
    ap.add_argument("--preset", default="tiny", help="tiny | e2b | e4b (default: tiny)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--tokenizer-from", type=Path, default=None, metavar="GGUF",
                    help="GGUF whose tokenizer.* keys are copied (default: "
                         "$UNICORN_CACHE/model/gemma-3-270m-q4_k_m.gguf, see scripts/fetch-model.sh)")
    ap.add_argument("--type", choices=FLOAT_TYPES, default="f16",
                    help="type of the 2-D weights (norms, AltUp coefficients stay F32 as in a "
                         "real conversion); default f16")
    ap.add_argument("--embd-type", choices=[t for t in TYPES if t != "q1_0"],
                    help="type of token_embd (tied output head); default: tiny q8_0, else --type")
    ap.add_argument("--ple-type", choices=list(TYPES),
                    help="type of per_layer_token_embd (262144 x 256*layers, read by GET_ROWS "
                         "only); default: tiny q4_0, else --type")
    ap.add_argument("--quantize", type=str.upper, choices=QUANTIZE_TYPES,
                    help="run build/bin/llama-quantize on the result; -o names the quantised file")
    ap.add_argument("--llama-quantize", type=Path, default=REPO / "build" / "bin" / "llama-quantize",
                    help="llama-quantize binary (default build/bin/llama-quantize)")
    ap.add_argument("--keep-unquantized", action="store_true",
                    help="with --quantize: keep the float file (OUTPUT minus .gguf + .float.gguf)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="generator threads (does not change the output)")
    ap.add_argument("--dry-run", action="store_true",
                    help="print the tensor plan and file size, write nothing")
    ap.add_argument("-q", "--quiet", action="store_true")
    ap.add_argument("--omit-tensor", metavar="NAME", action="append", default=[],
                    help="leave this tensor out (to test the loader's error path)")
    ap.add_argument("--wrong-shape", metavar="NAME", action="append", default=[],
                    help="write this tensor with a wrong shape (to test the loader's error path)")
    g = ap.add_argument_group("dimensions (override the preset)")
    g.add_argument("--layers", type=int)
    g.add_argument("--hidden", type=int, help="n_embd")
    g.add_argument("--heads", type=int)
    g.add_argument("--kv-heads", type=int)
    g.add_argument("--head-dim", type=int)
    g.add_argument("--ffn", type=int, help="feed-forward length")
    g.add_argument("--per-layer-input", type=int,
                   help=f"per-layer input width (llama.cpp loads only {N_EMBD_ALTUP})")
    g.add_argument("--sliding-window", type=int)
    g.add_argument("--global-every", type=int,
                   help="layer i is global when i %% N == N-1 (default 5)")
    g.add_argument("--global-last", action=argparse.BooleanOptionalAction, default=None,
                   help="make the last layer global too (tiny: yes)")
    g.add_argument("--global-layers", metavar="I,J,..",
                   help="explicit list of global layers (overrides --global-every)")
    g.add_argument("--context-length", type=int)
    g.add_argument("--rope-base", type=float)
    g.add_argument("--rope-base-swa", type=float)
    g.add_argument("--rms-eps", type=float)
    g.add_argument("--softcap", type=float, help="final logit soft-cap (llama.cpp uses 30)")
    return ap


def human(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def describe(c: Config, specs: list[Spec], log) -> None:
    glob = [i for i, s in enumerate(c.swa) if not s]
    log(f"gemma3n {c.preset}: {c.layers} layers, hidden {c.hidden}, heads {c.heads}/{c.kv_heads} "
        f"x {c.head_dim}, FFN {c.ffn}, vocab {c.n_vocab}, window {c.sliding_window}, "
        f"global layers {glob}, KV from layers 0..{N_LAYER_KV_FROM_START - 1} "
        f"(shared by {c.layers - N_LAYER_KV_FROM_START}), sparse FFN in layers 0..{N_LAYER_SPARSITY - 1}")
    by_type: dict[str, list[int]] = {}
    for sp in specs:
        e = by_type.setdefault(sp.qtype, [0, 0])
        e[0] += 1
        e[1] += sp.nbytes
    total = sum(sp.nbytes for sp in specs)
    log(f"{len(specs)} tensors, {sum(sp.n for sp in specs) / 1e9:.3f} G parameters, data "
        f"{human(total)}: " + ", ".join(f"{t} {n} tensors {human(b)}" for t, (n, b) in by_type.items()))
    for sp in specs[:2]:
        log(f"  {sp.name} {list(sp.ne)} {sp.qtype} {human(sp.nbytes)}")


def write_gguf(path: Path, c: Config, specs: list[Spec], seed: int, tok, threads: int, log) -> None:
    wr = gguf.GGUFWriter(path, ARCH)
    add_metadata(wr, c, seed, tok)
    for sp in specs:
        # the shape is given in numpy order (gguf-py reverses it); dtype only says "not bytes"
        wr.add_tensor_info(sp.name, list(reversed(sp.ne)), np.dtype(np.float32), sp.nbytes,
                           raw_dtype=TYPES[sp.qtype])
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_ti_data_to_file()
    fout = wr.fout[0]
    wr.write_padding(fout, fout.tell())

    jobs = []
    for sp in specs:
        plan = chunk_plan(sp)
        jobs += [(sp, i, n, i == len(plan) - 1) for i, n in enumerate(plan)]
    total = sum(sp.nbytes for sp in specs)
    done, last_report, t0 = 0, 0.0, time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, threads)) as ex:
        window: deque = deque()
        it = iter(jobs)
        prev = None

        def fill():
            while len(window) < 2 * max(1, threads) + 2:
                j = next(it, None)
                if j is None:
                    return
                window.append((j, ex.submit(gen_chunk, j[0], seed, j[1], j[2])))

        fill()
        while window:
            (sp, i, n, last), fut = window.popleft()
            data = fut.result()
            fill()
            if prev is not None and sp is not prev:
                wr.write_padding(fout, prev.nbytes)
            if i == 0:
                start = fout.tell()
            data.tofile(fout)
            done += data.nbytes
            if last and fout.tell() - start != sp.nbytes:
                raise RuntimeError(f"{sp.name}: wrote {fout.tell() - start} bytes, "
                                   f"expected {sp.nbytes}")
            prev = sp
            now = time.monotonic()
            if now - last_report > 10:
                last_report = now
                log(f"  {human(done)} / {human(total)} ({now - t0:.0f} s)")
        if prev is not None:
            wr.write_padding(fout, prev.nbytes)
    wr.close()


def run_quantize(args, c: Config, src: Path, dst: Path, log) -> None:
    exe = args.llama_quantize
    if not os.access(exe, os.X_OK):
        raise UsageError(f"--quantize: {exe} not found (build llama.cpp: scripts/setup-llama.sh)")
    cmd = [str(exe)]
    # quantised embedding tables were written as random blocks on purpose: keep them as they are
    if c.embd_type not in FLOAT_TYPES:
        cmd += ["--token-embedding-type", c.embd_type]
    if c.embd_type not in FLOAT_TYPES or c.ple_type not in FLOAT_TYPES:
        cmd += ["--tensor-type", f"per_layer_token_embd={c.ple_type}"]
    cmd += [str(src), str(dst), args.quantize, str(max(1, args.threads))]
    log("running " + " ".join(cmd))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-4000:])
        raise RuntimeError(f"llama-quantize failed with status {r.returncode}")
    for line in r.stdout.splitlines():
        if "model size" in line or "quant size" in line:
            log("  " + line.strip())


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    log = (lambda *_: None) if args.quiet else (lambda m: print(f"[gen-gemma3n] {m}", file=sys.stderr, flush=True))
    try:
        if args.output is None and not args.dry_run:
            raise UsageError("-o/--output is required (or --dry-run)")
        if args.threads < 1:
            raise UsageError("--threads must be at least 1")
        if args.preset not in PRESETS:
            raise UsageError(f"unknown preset {args.preset!r} (choose from {', '.join(PRESETS)})")
        t0 = time.monotonic()
        tok_path = args.tokenizer_from or default_tokenizer_path()
        if tok_path.is_file():
            tok, n_vocab = tokenizer_kv(tok_path)
        elif args.dry_run:
            tok, n_vocab = {}, 262144
        else:
            raise UsageError(f"tokenizer source {tok_path} not found (run scripts/fetch-model.sh, "
                             f"or give --tokenizer-from GGUF)")
        c = build_config(args, n_vocab)
        specs = tensor_specs(c)
        check_names_known(specs)
        specs = break_specs(specs, args.omit_tensor, args.wrong_shape)
        describe(c, specs, log)
        if args.dry_run:
            total = sum(sp.nbytes for sp in specs)
            print(f"{c.preset}: {len(specs)} tensors, {total} bytes of tensor data "
                  f"({human(total)}), plus about 7 MB of metadata (the tokenizer)")
            return 0

        out: Path = args.output
        out.parent.mkdir(parents=True, exist_ok=True)
        if args.quantize:
            raw = out.with_name(out.name.removesuffix(".gguf") + ".float.gguf") \
                if args.keep_unquantized else out.with_name(out.name + ".float.tmp")
        else:
            raw = out
        tmp = raw.with_name(raw.name + ".part")
        try:
            write_gguf(tmp, c, specs, args.seed, tok, args.threads, log)
            os.replace(tmp, raw)
        finally:
            tmp.unlink(missing_ok=True)
        log(f"wrote {raw} ({human(raw.stat().st_size)}) in {time.monotonic() - t0:.1f} s")

        if args.quantize:
            t1 = time.monotonic()
            qtmp = out.with_name(out.name + ".part")
            try:
                run_quantize(args, c, raw, qtmp, log)
                os.replace(qtmp, out)
            finally:
                qtmp.unlink(missing_ok=True)
                if not args.keep_unquantized:
                    raw.unlink(missing_ok=True)
            log(f"wrote {out} ({args.quantize}, {human(out.stat().st_size)}) in "
                f"{time.monotonic() - t1:.1f} s")
        return 0
    except UsageError as e:
        print(f"gen-gemma3n: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
