#!/usr/bin/env python3
"""Cost model of FLASH_ATTN_EXT on the Phoenix NPU against the 780M iGPU, at Gemma3n sizes.

Prints the tables of docs/npu-cost-model.md. Every hardware figure is an input below, from
public sources (../shared notes: hardware.md) or stated as an assumption; the kernel's cycle
counts come from its code (kernels/npu/flash_attn_ext/flash_attn_ext.cc) and the block sizes
from fa_layout.h (via tiling.py). Nothing here is measured on an NPU: scripts/npu-phoenix-
validate.sh measures what this predicts.

    scripts/npu-cost-model.py [--ctx 4096] [--ubatch 512] [--clock 1.6]
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kernels", "npu", "flash_attn_ext"))
from tiling import Tiling  # noqa: E402

# ---- hardware (inputs) -----------------------------------------------------------------
NPU = dict(
    cols=4, rows=4,
    mac_per_cycle=128,          # bf16 4x8x4 mmul per core per cycle (AIE-ML)
    shim_bytes_per_cycle=4,     # one shim MM2S channel: a 32-bit stream per cycle
    dispatch_us=(42, 160),      # one XRT command on Phoenix: pipelined .. kernel + wait
)
DDR_GBS = 89.6                  # dual-channel DDR5-5600, shared by CPU, iGPU, NPU
IGPU = dict(
    bw_gbs=0.74 * DDR_GBS,      # llama.cpp decode reaches ~74 % of DDR bandwidth on the 780M
    f16_tflops=16.6,            # RDNA3 WMMA f16 peak, 12 CUs
    fa_efficiency=0.25,         # ASSUMPTION: share of that peak a flash-attention kernel holds
    launch_us=10,               # ASSUMPTION: one HIP kernel launch + its share of sync
)

# ---- the kernel's cycles per KV block on one core (from flash_attn_ext.cc) -------------
# "as written": one 4x4 C tile per inner loop (QK: A = 2 x 256-bit loads, B = 4 x 128-bit
# loads + transpose -> load-bound, ~3 cycles per mmul step; PV: ~2), row statistics one row
# at a time with scalar (software) float compares on the AIE-ML scalar unit.
# "tuned": 2x2 register blocking as mlir-aie's mm.cc (~1.1 cycles per step), row statistics
# of 16 rows per vector operation.
KERNEL = {
    "as written": dict(qk_step=3.0, pv_step=2.0, row_vec16=40, row_scalar=120, group_fixed=3000),
    "tuned": dict(qk_step=1.1, pv_step=1.1, row_vec16=12, row_scalar=8, group_fixed=1500),
}

GEMMA3N = {  # llama.cpp's gemma3n: hidden 2048, 8 query heads over 2 KV heads of 256
    "E2B": dict(layers=30, heads=8, kv_heads=2, d=256, window=512, global_every=5),
    "E4B": dict(layers=35, heads=8, kv_heads=2, d=256, window=512, global_every=5),
}


def block_cycles(t, rows_valid, kern, kv_f16=False):
    nrb = math.ceil(rows_valid / 4)
    qk = nrb * (t.bk // 4) * (t.d // 8) * kern["qk_step"]
    pv = nrb * (t.d // 4) * (t.bk // 8) * kern["pv_step"]
    soft = rows_valid * ((t.bk // 16) * kern["row_vec16"] + kern["row_scalar"])
    conv = (2 * t.bk * t.d // 16) * 12 if kv_f16 else 0
    return qk + pv + soft + conv, 2 * nrb * 4 * t.bk * t.d  # cycles, MACs


def npu_call(t, n_q, n_kv, heads, kv_heads, clock_ghz, kern, visible=1.0):
    """One FLASH_ATTN_EXT node (one command). visible: share of KV blocks a mask leaves
    (causal prefill skips whole masked blocks before any arithmetic)."""
    g = heads // kv_heads
    rows = n_q * g
    groups_per_bg = math.ceil(rows / (t.rows * t.bq))
    groups = kv_heads * groups_per_bg
    blocks = math.ceil(n_kv / t.bk)
    per_col = math.ceil(blocks / t.cols)
    rows_in_tile = min(rows, t.bq)  # the busiest core of a group
    comp, macs = block_cycles(t, rows_in_tile, kern)
    comp *= visible
    km_bytes = t.bk * t.d * 2 + t.rows * t.bq * t.bk * 2
    v_bytes = t.bk * t.d * 2
    dma = max(km_bytes, v_bytes) / NPU["shim_bytes_per_cycle"]
    per_block = max(comp, dma)
    cascade = t.cascade_words * 3 * (t.cols - 1)  # merge + put along the row
    group_cycles = per_col * per_block + kern["group_fixed"] + cascade
    total_cycles = groups * group_cycles
    us = total_cycles / (clock_ghz * 1e3)
    dram = groups * blocks * (2 * t.bk * t.d * 2 + t.rows * t.bq * t.bk * 2) + n_q * heads * t.d * 8
    # the shared DRAM bounds it too
    us = max(us, dram / (min(DDR_GBS * 0.74, 8 * NPU["shim_bytes_per_cycle"] * clock_ghz) * 1e3))
    flops = 4 * rows * kv_heads * n_kv * t.d * visible
    return dict(us=us, groups=groups, blocks_per_col=per_col, block_cycles=comp, block_dma=dma, macs=macs,
                dram=dram, flops=flops)


def igpu_call(n_q, n_kv, heads, kv_heads, d, visible=1.0):
    kv_bytes = 2 * kv_heads * n_kv * d * 2
    flops = 4 * n_q * heads * n_kv * d * visible
    us = max(kv_bytes / (IGPU["bw_gbs"] * 1e3), flops / (IGPU["f16_tflops"] * IGPU["fa_efficiency"] * 1e6))
    return us + IGPU["launch_us"], kv_bytes, flops


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ctx", type=int, default=4096, help="context length at the measured step")
    ap.add_argument("--ubatch", type=int, default=512)
    ap.add_argument("--clock", type=float, default=1.6, help="NPU clock, GHz (npu1: up to 1.6)")
    a = ap.parse_args()
    t = Tiling.of(256)
    peak = NPU["cols"] * NPU["rows"] * NPU["mac_per_cycle"] * 2 * a.clock / 1e3
    print(f"NPU peak bf16: {peak:.2f} TFLOPS at {a.clock} GHz; shim DMA {8 * NPU['shim_bytes_per_cycle'] * a.clock:.1f} GB/s "
          f"(8 channels); DDR {DDR_GBS} GB/s shared; iGPU attention model: {IGPU['bw_gbs']:.0f} GB/s, "
          f"{IGPU['f16_tflops'] * IGPU['fa_efficiency']:.1f} TFLOPS, {IGPU['launch_us']} us per launch\n")

    print("Per KV block, one core, D=256 (Bq=16, Bk=16): cycles / MACs / share of the core's MAC peak")
    for name, kern in KERNEL.items():
        for rows in (4, 16):
            c, m = block_cycles(t, rows, kern)
            print(f"  {name:10s} {rows:2d} rows: {c:7.0f} cycles, {m:6d} MAC, {m / c / NPU['mac_per_cycle'] * 100:4.1f} % of peak")
    km = t.bk * t.d * 2 + t.rows * t.bq * t.bk * 2
    print(f"  DMA per block and column: K+mask {km} B on one shim channel ({km / 4:.0f} cycles), "
          f"V {t.bk * t.d * 2} B on the other\n")

    win_kv = a.window if hasattr(a, "window") else 512
    for phase, n_q in (("decode", 1), ("prefill", a.ubatch)):
        print(f"{phase} (n_q={n_q}, context {a.ctx}): per layer, one command")
        # global layers see the whole context; local (sliding-window) layers the window
        # (+ the micro-batch in prefill: llama.cpp's SWA cache holds window + ubatch cells)
        kinds = {"global": a.ctx, "local": min(a.ctx, 512 + (n_q if n_q > 1 else 256))}
        rows = {}
        for kind, n_kv in kinds.items():
            # prefill: the chunk's own keys are causal (half visible), earlier keys all visible
            vis = 1.0 if n_q == 1 else (n_kv - n_q / 2) / n_kv
            iu, kvb, fl = igpu_call(n_q, n_kv, 8, 2, 256, vis)
            for name, kern in KERNEL.items():
                r = npu_call(t, n_q, n_kv, 8, 2, a.clock, kern, vis)
                lo, hi = (r["us"] + d for d in NPU["dispatch_us"])
                rows[(kind, name)] = (lo, hi, iu)
                print(f"  {kind:6s} n_kv={n_kv:5d} NPU {name:10s}: {r['groups']:3d} groups x {r['blocks_per_col']:4d} blocks/column, "
                      f"{r['us']:8.1f} us + dispatch = {lo:8.1f}..{hi:8.1f} us, {r['flops'] / r['us'] / 1e6:5.2f} TFLOPS, "
                      f"{r['dram'] / 2**20:6.1f} MiB read")
            print(f"  {kind:6s} n_kv={n_kv:5d} iGPU (model)     : {iu:8.1f} us, K/V {kvb / 2**20:5.1f} MiB, {fl / 1e9:6.2f} GFLOP")
        for model, cfg in GEMMA3N.items():
            n_global = cfg["layers"] // cfg["global_every"]
            n_local = cfg["layers"] - n_global
            for name in KERNEL:
                lo = n_global * rows[("global", name)][0] + n_local * rows[("local", name)][0]
                hi = n_global * rows[("global", name)][1] + n_local * rows[("local", name)][1]
                ig = n_global * rows[("global", name)][2] + n_local * rows[("local", name)][2]
                unit = "token" if n_q == 1 else f"{n_q}-token micro-batch"
                print(f"  {model} ({cfg['layers']} layers: {n_global} global, {n_local} local), per {unit}: "
                      f"NPU {name:10s} {lo / 1e3:6.2f}..{hi / 1e3:6.2f} ms, iGPU {ig / 1e3:6.2f} ms")
        if n_q > 1:
            # break-even: the iGPU attention rate below which the NPU wins this phase
            for name in KERNEL:
                r = npu_call(t, n_q, a.ctx, 8, 2, a.clock, KERNEL[name], (a.ctx - n_q / 2) / a.ctx)
                be = r["flops"] / ((r["us"] + NPU["dispatch_us"][0] - IGPU["launch_us"]) * 1e6)
                print(f"  break-even (global layer): the NPU {name} wins only if the iGPU's attention runs below {be:.2f} TFLOPS")
        print()


if __name__ == "__main__":
    main()
