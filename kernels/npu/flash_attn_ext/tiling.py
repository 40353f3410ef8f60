#!/usr/bin/env python3
"""flash_attn_ext on npu1: block sizes, per-core memory map and DMA layouts.

Pure Python (no mlir-aie import), so it runs anywhere: the IRON design (design.py) builds
from it, and the Rust emulator's unit test compares its own memory map with
`tiling.py --memory-map`. The numbers come from fa_layout.h, the header the kernel is
compiled with, so there is one source for them.
"""
import argparse
import os
import re
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
HEAD_DIMS = (64, 128, 256)


def header_defines(path=os.path.join(HERE, "fa_layout.h")):
    """The integer #defines of fa_layout.h (plain numbers and sums of earlier ones)."""
    defs = {}
    for line in open(path):
        m = re.match(r"#define\s+(FA_\w+)\s+(.+?)\s*(//.*)?$", line)
        if not m or "(" in m.group(1):
            continue
        expr = m.group(2)
        if not re.fullmatch(r"[\w\s+*()/-]+", expr) or "##" in expr:
            continue
        try:
            defs[m.group(1)] = int(eval(expr, {}, dict(defs)))  # noqa: S307 (our own header)
        except (NameError, SyntaxError, TypeError):
            pass
    return defs


def rtp_words():
    return header_defines()["FA_RTP_WORDS"]


@dataclass(frozen=True)
class Tiling:
    d: int
    bq: int
    bk: int
    cols: int
    rows: int
    rtp_words: int
    stack_bytes: int
    core_bytes: int
    max_kv: int

    @staticmethod
    def of(d):
        h = header_defines()
        return Tiling(d=d, bq=h[f"FA_BQ_D{d}"], bk=h[f"FA_BK_D{d}"], cols=h["FA_COLS"], rows=h["FA_ROWS"],
                      rtp_words=h["FA_RTP_WORDS"], stack_bytes=h["FA_STACK_BYTES"],
                      core_bytes=h["FA_CORE_BYTES"], max_kv=h["FA_MAX_KV"])

    # Byte sizes, as fa_layout.h defines them for FA_D = d.
    @property
    def k_bytes(self): return self.bk * self.d * 2
    @property
    def masks_bytes(self): return self.rows * self.bq * self.bk * 2
    @property
    def km_bytes(self): return self.k_bytes + self.masks_bytes
    @property
    def v_bytes(self): return self.bk * self.d * 2
    @property
    def q_bytes(self): return self.bq * self.d * 2
    @property
    def o_bytes(self): return self.bq * self.d * 4
    @property
    def state_bytes(self): return (4 * self.bq + 16) * 4
    @property
    def scratch_bytes(self): return self.bq * self.bk * 4 + self.bq * self.bk * 2 + 64
    @property
    def rtp_bytes(self): return self.rtp_words * 4
    @property
    def q_objs(self):
        """KM objects that carry a group's Q (4 tiles x bq rows x d f32), padded."""
        return -(-(self.rows * self.bq * self.d * 4) // self.km_bytes)
    @property
    def cascade_words(self):
        return 2 * self.bq // 16 + self.bq * self.d // 16

    def memory_map(self):
        """[(name, offset, bytes)]: every core's data memory, 64-byte aligned, in the order
        design.py allocates it (object-FIFO buffers at depth 2, then the worker's buffers)."""
        out, at = [], 0
        for name, size in (("km0", self.km_bytes), ("km1", self.km_bytes), ("v0", self.v_bytes),
                           ("v1", self.v_bytes), ("q", self.q_bytes), ("o", self.o_bytes),
                           ("state", self.state_bytes), ("scratch", self.scratch_bytes),
                           ("rtp", self.rtp_bytes), ("stack", self.stack_bytes)):
            at = -(-at // 64) * 64
            out.append((name, at, size))
            at += size
        assert at <= self.core_bytes, f"D={self.d}: {at} bytes per core, over {self.core_bytes}"
        return out

    # DMA layouts: (size, stride) pairs in elements, outermost first, as IRON's dims_to_stream.
    def v_to_core(self):
        """Memtile -> core for V (bf16, row-major [bk][d] in the memtile): 8x4 tiles, the
        mmul's B operand (as whole_array's B)."""
        return [(self.bk // 8, 8 * self.d), (self.d // 4, 4), (8, self.d), (4, 1)]

    def out_to_memtile(self):
        """Core -> memtile for the output (f32, [bq/4][d/4] tiles of 4x4): row-major rows (as
        whole_array's C)."""
        return [(self.bq // 4, 4 * self.d), (4, 4), (self.d // 4, 16), (4, 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory-map", action="store_true", help="print 'D name offset bytes' lines")
    args = ap.parse_args()
    for d in HEAD_DIMS:
        t = Tiling.of(d)
        if args.memory_map:
            for name, off, size in t.memory_map():
                print(d, name, off, size)
        else:
            total = t.memory_map()[-1][1] + t.memory_map()[-1][2]
            print(f"D={d}: Bq={t.bq} Bk={t.bk}, KM object {t.km_bytes} B, Q in {t.q_objs} objects, "
                  f"{total} of {t.core_bytes} bytes per core")


if __name__ == "__main__":
    main()
