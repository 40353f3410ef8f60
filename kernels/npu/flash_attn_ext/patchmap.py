#!/usr/bin/env python3
"""Instruction-sequence templates for flash_attn_ext and their patch tables.

One xclbin per head dimension holds the core programs; the instruction sequence (the runtime
sequence of design.py, lowered by aiecc.py to NPU instruction words) holds everything that
changes with a call: block counts, the KV slice, buffer offsets, the runtime parameters. This
tool compiles a template for one shape (KV heads, query heads per KV head, batch, query rows)
and finds, by compiling again with other values, which words each per-call value lands in and
how; the XRT engine (backend/unicorn/src/engine/npu/xrt.rs) patches them per call without the
compiler. Output, in --out:

    flash_attn_ext_d<D>_h<H>_g<G>_b<B>_q<Q>.insts.bin   the template (little-endian u32 words)
    flash_attn_ext_d<D>_h<H>_g<G>_b<B>_q<Q>.patch       `field word mask shift param scale offset`
                                                        and `expect param value` lines

Needs mlir-aie (aiecc.py) for real templates: run on a Phoenix box
(scripts/npu-build.sh, run by scripts/phoenix-install.sh). `--self-test` checks the derivation logic anywhere.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tiling import Tiling, rtp_words  # noqa: E402

RTP_SENTINEL = 0x7A000000  # rtp.<c>.<r>.<i> compiled as RTP_SENTINEL | c << 12 | r << 8 | i


def llama_strides(d, kv_heads, g, q, kv_size=32768):
    """Byte strides of llama.cpp's attention tensors (a template pins them with `expect`):
    Q [d, q, heads] permuted from [d, heads, q] f32; K/V views of the cache
    [d, n_kv, kv_heads] with all heads of a cell contiguous (bf16); out [d, heads, q] f32."""
    heads = kv_heads * g
    return {
        "nb_q1": heads * d * 4, "nb_q2": d * 4, "nb_q3": heads * d * 4 * q,
        "nb_k1": kv_heads * d * 2, "nb_k2": d * 2, "nb_k3": kv_heads * d * 2 * kv_size,
        "nb_o2": heads * d * 4, "nb_o3": heads * d * 4 * q,
    }


def default_call(T, kv_heads, g, batch, q, **strides):
    """The values a template is compiled with: slice at 0, 512 keys, sentinel RTP words."""
    call = {"kv_lo": 0, "blocks": [-(-512 // T.bk - c) // T.cols for c in range(T.cols)],
            "off_q": 0, "off_k": 0, "off_v": 0, "off_mask": 0, "off_out": 0, "nb_mask1": 512 * 2,
            "rtp": {(c, r): [RTP_SENTINEL | c << 12 | r << 8 | i for i in range(rtp_words())]
                    for c in range(T.cols) for r in range(T.rows)}}
    call.update(llama_strides(T.d, kv_heads, g, q))
    call.update(strides)
    return call


def decode_call(call):
    call = dict(call)
    call["rtp"] = {tuple(int(x) for x in k.split(",")): v for k, v in call["rtp"].items()}
    return call


# Per-call values the design takes, as the XRT engine names them (xrt.rs `params`).
PARAMS = {
    "kv.lo": ("kv_lo", None), "off.q": ("off_q", None), "off.k": ("off_k", None), "off.v": ("off_v", None),
    "off.mask": ("off_mask", None), "off.out": ("off_out", None), "nb.mask.1": ("nb_mask1", None),
    **{f"kv.blocks.{c}": ("blocks", c) for c in range(4)},
}
# Fixed per template: the engine only takes calls whose tensors have these strides.
EXPECTS = {"nb.q.1": "nb_q1", "nb.q.2": "nb_q2", "nb.k.1": "nb_k1", "nb.k.2": "nb_k2", "nb.v.1": "nb_k1",
           "nb.v.2": "nb_k2", "nb.out.1": None, "nb.out.2": "nb_o2"}


def get(call, key):
    name, idx = key
    return call[name] if idx is None else call[name][idx]


def with_value(call, key, value):
    c = dict(call)
    name, idx = key
    if idx is None:
        c[name] = value
    else:
        c[name] = list(c[name])
        c[name][idx] = value
    return c


def param_max(T, param):
    """The largest value a call may give `param` (what the template is claimed to serve):
    derive() compiles it and requires every field it touches to hold it."""
    if param == "kv.lo":
        return T.max_kv - 1
    if param.startswith("kv.blocks"):
        # one DMA task per column walks its blocks with the BD's iteration dimension, whose
        # wrap is 6 bits on npu1: 64 blocks (xrt.rs DMA_MAX_BLOCKS_PER_COLUMN declines longer
        # caches). Claiming FA_MAX_KV here (512 blocks at D = 256) needs the task split first.
        return min(64, -(-T.max_kv // T.bk) // T.cols)
    if param == "nb.mask.1":
        return 2 * T.max_kv
    return 1 << 28  # byte offsets of a tensor inside its buffer object (256 MiB)


def _span(bits):
    lo = (bits & -bits).bit_length() - 1
    hi = bits.bit_length() - 1
    return lo, hi


def derive(compile_words, call, T, deltas=None, maxima=None):
    """Patch fields from compiles: `compile_words(call) -> [u32]`.

    Each per-call value is moved by a delta and set to its maximum (`maxima`, default
    param_max). A word's *field* is the span of bits any value changes over those compiles; the
    bits outside it are the template's own (another field of the same register: a DMA
    descriptor packs sizes, strides, wraps and repeat counts side by side). Within the field the
    value must be linear in every per-call value (DMA lengths, wraps, repeat counts, address
    offsets); a field several values touch (an address: offset + kv_lo * stride) gets one term
    per value, the base constant on the first. A value whose maximum does not fit its field (a
    6-bit iteration wrap, an 8-bit repeat count...) is an error here, at build time, naming the
    word and the bits: the design must split that DMA. RTP words are found by their
    sentinels. Returns (base, [(word, mask, shift, param, scale, offset)])."""
    base = compile_words(call)
    changed = {}  # word -> bits any value changes
    probes = {}   # param -> (delta, words at v0 + delta, vmax, words at vmax)
    for param, key in PARAMS.items():
        v0 = get(call, key)
        # steps: a block count by 3, kv_lo by one block, byte offsets and strides by one 4-byte
        # word (the shim DMA's address granularity: the field then covers every bit it may use)
        delta = (deltas or {}).get(param, 3 if param.startswith("kv.blocks") else T.bk if param == "kv.lo" else 4)
        vmax = (maxima or {}).get(param, param_max(T, param))
        step = compile_words(with_value(call, key, v0 + delta))
        try:
            top = compile_words(with_value(call, key, vmax))
        except Exception as e:  # the compiler itself refuses the maximum
            raise ValueError(f"{param}: the design does not compile at its maximum {vmax} ({e}); "
                             "split the DMA so every field holds it") from e
        for words in (step, top):
            if len(words) != len(base):
                raise ValueError(f"{param}: the sequence length changed ({len(base)} -> {len(words)}); "
                                 "it must be a value, not a structure")
            for i, (a, b) in enumerate(zip(base, words)):
                if a != b:
                    changed[i] = changed.get(i, 0) | (a ^ b)
        probes[param] = (v0, delta, step, vmax, top)
    fields = []
    for i in sorted(changed):
        lo, hi = _span(changed[i])
        mask = ((1 << (hi + 1)) - 1) & ~((1 << lo) - 1)

        def field(w, mask=mask):
            return w & mask  # in place (shift 0): a value with bits below `lo` is misaligned

        terms = []
        for param, (v0, delta, step, vmax, top) in probes.items():
            d = field(step[i]) - field(base[i])
            if d == 0 and field(top[i]) == field(base[i]):
                continue
            if d % delta:
                raise ValueError(f"{param}: word {i} bits {lo}..{hi} move by {d} for a step of {delta}: not linear")
            scale = d // delta
            want = field(base[i]) + scale * (vmax - v0)
            if field(top[i]) != want or (top[i] & ~mask) != (base[i] & ~mask):
                raise ValueError(f"{param}: at its maximum {vmax}, word {i} bits {lo}..{hi} hold "
                                 f"{field(top[i])}, not {want}: the field is too narrow (it wraps or spills); "
                                 "split the DMA so every field holds the maximum")
            terms.append((param, scale))
        const = field(base[i]) - sum(scale * get(call, PARAMS[p]) for p, scale in terms)
        for k, (p, scale) in enumerate(terms):
            fields.append((i, mask, 0, p, scale, const if k == 0 else 0))
    for (c, r), ws in call["rtp"].items():
        for j, sentinel in enumerate(ws):
            at = [i for i, w in enumerate(base) if w == sentinel]
            if len(at) != 1:
                raise ValueError(f"rtp.{c}.{r}.{j}: sentinel {sentinel:#x} found {len(at)} times")
            fields.append((at[0], 0xFFFFFFFF, 0, f"rtp.{c}.{r}.{j}", 1, 0))
    return base, fields


def apply(base, fields, values):
    """xrt.rs `apply_patch`, in Python (used to verify a derived table)."""
    w = list(base)
    sums = {}
    for word, mask, shift, param, scale, offset in fields:
        sums[(word, mask, shift)] = sums.get((word, mask, shift), 0) + values[param] * scale + offset
    for (word, mask, shift), x in sums.items():
        if x < 0 or (x << shift) & ~mask & 0xFFFFFFFF or (x << shift) >> 32:
            raise ValueError(f"word {word}: {x} does not fit its field {mask:#010x} (too large, negative or misaligned)")
        w[word] = (w[word] & ~mask & 0xFFFFFFFF) | ((x << shift) & mask)
    return w


def values_of(call):
    v = {p: get(call, key) for p, key in PARAMS.items()}
    for (c, r), ws in call["rtp"].items():
        for j, x in enumerate(ws):
            v[f"rtp.{c}.{r}.{j}"] = x
    return v


def write_table(path, fields, expects):
    with open(path, "w") as f:
        f.write("# flash_attn_ext instruction-sequence patch table (patchmap.py)\n")
        for p, v in expects:
            f.write(f"expect {p} {v}\n")
        for word, mask, shift, param, scale, offset in fields:
            f.write(f"field {word} {mask:08x} {shift} {param} {scale} {offset}\n")


def aiecc_words(d, kv_heads, g, batch, q, call, workdir):
    """Lowers design.py for `call` to NPU instruction words with aiecc.py (mlir-aie)."""
    from design import build

    mlir = os.path.join(workdir, "t.mlir")
    with open(mlir, "w") as f:
        f.write(str(build(d, kv_heads, g, batch, q, call)))
    aiecc = os.environ.get("AIECC") or shutil.which("aiecc") or shutil.which("aiecc.py") or "aiecc"
    subprocess.run([aiecc, "--aie-only-generate-npu", "--aie-generate-npu-insts", "--dynamic-objFifos", "--no-compile-host",
                    "--no-xchesscc", "--no-xbridge", "--npu-insts-name=t.bin", "t.mlir"],
                   cwd=workdir, check=True, stdout=subprocess.DEVNULL)
    data = open(os.path.join(workdir, "t.bin"), "rb").read()
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]


def self_test():
    """The derivation against a fake compiler with the features of the real one: bit-packed
    fields, words fed by two values, sentinel RTP words."""
    T = Tiling.of(256)
    call = default_call(T, 2, 4, 1, 1)

    def fake(c):
        words = [0xDEAD0000, 17]
        words.append(c["off_k"] + c["kv_lo"] * c["nb_k1"])  # an address offset
        for col in range(4):
            words.append(0x00100000 | (c["blocks"][col] - 1))  # a repeat count, bits 0..19
            words.append((c["blocks"][col] * 16 * 4) << 8 | 0x3)  # a length field at bit 8
        words.append(c["off_mask"] + c["kv_lo"] * 2)
        words += [c["off_q"], c["off_v"], c["off_out"], c["nb_mask1"] * 2]
        for key in sorted(c["rtp"]):
            words += c["rtp"][key]
        return words

    base, fields = derive(fake, call, T)
    rnd = random.Random(7)
    for _ in range(20):
        c2 = dict(call, kv_lo=rnd.randrange(0, 4096 // T.bk) * T.bk, off_k=rnd.randrange(0, 1 << 20) * 4,
                  off_mask=rnd.randrange(0, 1 << 16) * 4, off_q=rnd.randrange(0, 1 << 16) * 4,
                  blocks=[rnd.randrange(1, 65) for _ in range(4)], nb_mask1=rnd.randrange(1, 9000) * 4,
                  rtp={k: [rnd.randrange(0, 1 << 31) for _ in v] for k, v in call["rtp"].items()})
        assert apply(base, fields, values_of(c2)) == fake(c2), "patched template != compiled"
    # Bit-field overflow: an iteration register packs a 6-bit wrap (blocks - 1) under a 20-bit
    # stride, as the shim BD does. The blocks per column a 32768-key slice needs (512) do not
    # fit 6 bits: derive() must refuse the template (before: the whole word was one field, and
    # a wrap of 64 carried into the stride unnoticed).
    def fake_wrap(c):
        words = fake(c)
        for col in range(4):
            words.append(((T.cols * T.bk * 1024) << 6) + (c["blocks"][col] - 1))  # carries past bit 5
            words.append(0x0F000000 | ((c["blocks"][col] - 1) & 0xFF) << 16)      # an 8-bit repeat count
        return words

    full = -(-T.max_kv // T.bk) // T.cols  # FA_MAX_KV keys: 512 blocks per column at D = 256
    try:
        derive(fake_wrap, call, T, maxima={f"kv.blocks.{c}": full for c in range(4)})
    except ValueError as e:
        assert "kv.blocks" in str(e) and "too narrow" in str(e), e
    else:
        raise AssertionError("a 6-bit wrap field fed 512 blocks was accepted")
    # ... and at the default claim (64 blocks per column, param_max), every field is bounded by
    # its bits: 64 blocks fit, 65 are refused by apply().
    base_w, fields_w = derive(fake_wrap, call, T)
    ok = dict(call, blocks=[64, 64, 64, 64])
    assert apply(base_w, fields_w, values_of(ok)) == fake_wrap(ok)
    try:
        apply(base_w, fields_w, values_of(dict(call, blocks=[65, 64, 64, 64])))
    except ValueError as e:
        assert "does not fit" in str(e), e
    else:
        raise AssertionError("65 blocks patched into a 6-bit wrap field")
    print(f"patchmap self-test: {len(fields)} fields, 20 random calls reproduced; "
          "a 6-bit wrap and an 8-bit repeat count bounded per bit-field")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("-d", type=int, choices=(64, 128, 256))
    ap.add_argument("--kv-heads", type=int)
    ap.add_argument("--g", type=int)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--q", type=int)
    ap.add_argument("--kv-size", type=int, default=32768, help="cells of the KV cache (its dim-3 stride)")
    ap.add_argument("--out", default=".")
    args = ap.parse_args()
    if args.self_test:
        self_test()
        return
    T = Tiling.of(args.d)
    call = default_call(T, args.kv_heads, args.g, args.batch, args.q)
    name = f"flash_attn_ext_d{args.d}_h{args.kv_heads}_g{args.g}_b{args.batch}_q{args.q}"
    with tempfile.TemporaryDirectory() as tmp:
        def words(c):
            return aiecc_words(args.d, args.kv_heads, args.g, args.batch, args.q, c, tmp)

        base, fields = derive(words, call, T)
        rnd = random.Random(1)
        check = dict(call, kv_lo=rnd.randrange(0, 1024), blocks=[rnd.randrange(1, 64) for _ in range(4)],
                     off_k=4096, off_v=8192, off_mask=256, nb_mask1=3000)
        if apply(base, fields, values_of(check)) != words(check):
            raise SystemExit(f"{name}: the patch table does not reproduce a fresh compile; not written")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, name + ".insts.bin"), "wb") as f:
        f.write(b"".join(w.to_bytes(4, "little") for w in base))
    expects = [(p, call[k]) for p, k in EXPECTS.items() if k]
    expects.append(("nb.out.1", args.d * 4))
    write_table(os.path.join(args.out, name + ".patch"), fields, expects)
    print(f"{name}: {len(base)} words, {len(fields)} patched fields")


if __name__ == "__main__":
    main()
