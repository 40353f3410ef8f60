#!/usr/bin/env python3
"""flash_attn_ext on npu1 (Phoenix XDNA1, 4 columns x 4 compute rows): the placed IRON design.

Needs mlir-aie's Python package (the `mlir_aie` wheel); only a Phoenix owner's machine has it
(scripts/npu-build.sh, run by scripts/phoenix-install.sh). Not built or run in this repository's CI: the emulated NPU
(backend/unicorn/src/engine/npu) runs the same kernel under the same schedule instead, and
tiling.py (no mlir-aie needed) is where the numbers below come from.

    python3 design.py -d 256 --kv-heads 2 --g 4 --batch 1 --q 512 > fa_d256_h2_g4_b1_q512.mlir

Dataflow (README.md has the picture):

  * Columns are KV stages. Column c's shim DMA streams the KV blocks j with j % 4 == c of the
    current group's KV head into memtile c; the memtile broadcasts each object to the 4 cores of
    the column. Two object FIFOs per column, one per shim MM2S channel:
      - KM (depth 2): per group first FA_Q_OBJS objects of Q (f32, the 4 Q tiles, broadcast;
        each core keeps its own rows), then per block [K block row-major | mask rows of the
        group's queries]. K and the mask come from two tensors: each block is a chain of two
        buffer descriptors on one channel, the task repeated once per block (the descriptors'
        iteration stride walks the blocks);
      - V (depth 2): V blocks, tiled 8x4 by the memtile-to-core DMA (the mmul B layout).
  * Rows are Q tiles: core (c, 2 + r) holds tile r of the group (FA_BQ packed rows: query x
    GQA head). Every K/V byte read from DRAM serves 4 cores.
  * Cascade, west to east along each row: core (c, r) sends its partial (m, l, O) to (c+1, r);
    column 3 merges the last one, normalises, and its O buffer *is* the output object, drained
    through memtile r (4x4 tiles -> rows) by shim r's S2MM.
  * One command per layer: the runtime sequence covers every group (all heads, all query
    rows); the host patches block counts, the KV slice and the runtime parameters into the
    instruction words per call (patchmap.py writes the table, the XRT engine applies it).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiling import Tiling  # noqa: E402


def rtp_layout():
    from tiling import header_defines

    h = header_defines()
    return {k[len("FA_RTP_"):]: v for k, v in h.items() if k.startswith("FA_RTP_")}


def build(d, kv_heads, g, batch, n_q, call):
    """The MLIR module for one instruction-sequence template.

    `call` holds the per-call values baked into this compilation (patchmap.py compiles with
    sentinel and perturbed values to find where each lands): kv_lo, blocks[c] (KV blocks per
    column), groups (how many groups the sequence covers), rtp[(c, r)] (word lists), off_*
    (byte offsets of the tensors in their buffer objects), nb_mask1 (mask row stride, bytes).
    """
    from aie.dialects.aie import (AIEDevice, LockAction, ObjectFifoPort, buffer, cascade_flow, core, device,
                                  external_func, lock, object_fifo, object_fifo_link, tile, use_lock)
    from aie.dialects.aiex import (bds, dma_await_task, dma_bd, dma_configure_task_for, dma_free_task,
                                   dma_start_task, next_bd, npu_rtp_write, runtime_sequence, set_lock_value)
    from aie.dialects.aie import EndOp
    from aie.extras.context import mlir_mod_ctx
    from aie.iron.controlflow import range_

    T = Tiling.of(d)
    R = rtp_layout()
    assert (T.rows * T.bq) % g == 0, "a group must hold whole queries"
    q_per_group = T.rows * T.bq // g
    groups_per_bg = -(-n_q * g // (T.rows * T.bq))
    n_groups = batch * kv_heads * groups_per_bg
    rows = n_q * g  # packed rows per (batch, KV head); tiles past them go to the tail buffer

    u8 = np.dtype[np.uint8]
    km_ty = np.ndarray[(T.km_bytes,), u8]
    v_ty = np.ndarray[(T.bk * d,), np.dtype[np.int16]]
    o_ty = np.ndarray[(T.bq * d,), np.dtype[np.float32]]
    q_ty = np.ndarray[(T.bq * d,), np.dtype[np.int16]]
    st_ty = np.ndarray[(T.state_bytes // 4,), np.dtype[np.float32]]
    sc_ty = np.ndarray[(T.scratch_bytes,), u8]
    rtp_ty = np.ndarray[(T.rtp_words,), np.dtype[np.int32]]
    i32 = np.int32
    big = np.ndarray[(1 << 30,), u8]  # the host arguments: offsets are patched per call

    with mlir_mod_ctx() as ctx:

        @device(AIEDevice.npu1)
        def device_body():
            obj = f"flash_attn_ext_d{d}.o"
            # Current IRON links the object through the function (external_func(link_with=...)) and
            # rejects it on the core; older releases only had the core's argument.
            import inspect
            link_on_func = "link_with" in inspect.signature(external_func).parameters
            ext = {"link_with": obj} if link_on_func else {}

            def fn(name, inputs):
                return external_func(name, inputs=inputs, **ext)

            k_begin = fn(f"fa_group_begin_d{d}", [o_ty, st_ty, rtp_ty, i32])
            k_load_q = fn(f"fa_load_q_d{d}", [km_ty, q_ty, rtp_ty, i32])
            k_block = fn(f"fa_block_d{d}", [q_ty, km_ty, v_ty, o_ty, st_ty, sc_ty, rtp_ty, i32])
            k_put = fn(f"fa_cascade_put_d{d}", [o_ty, st_ty])
            k_merge = fn(f"fa_cascade_merge_d{d}", [o_ty, st_ty, sc_ty])
            k_end = fn(f"fa_group_end_d{d}", [o_ty, st_ty, sc_ty])
            core_obj = () if link_on_func else (obj,)

            shims = [tile(c, 0) for c in range(T.cols)]
            mems = [tile(c, 1) for c in range(T.cols)]
            cores = [[tile(c, 2 + r) for r in range(T.rows)] for c in range(T.cols)]

            # --- data movement ------------------------------------------------------------
            km_l3, km_l1, v_l3, v_l1 = [], [], [], []
            for c in range(T.cols):
                km_l3.append(object_fifo(f"km_l3_{c}", shims[c], mems[c], 2, km_ty))
                km_l1.append(object_fifo(f"km_{c}", mems[c], cores[c], 2, km_ty))  # broadcast
                object_fifo_link(km_l3[c], km_l1[c])
                v_l3.append(object_fifo(f"v_l3_{c}", shims[c], mems[c], 2, v_ty))
                v_l1.append(object_fifo(f"v_{c}", mems[c], cores[c], 2, v_ty, T.v_to_core()))
                object_fifo_link(v_l3[c], v_l1[c])
            out_l1, out_l2 = [], []
            last = T.cols - 1
            for r in range(T.rows):
                out_l1.append(object_fifo(f"out_{r}", cores[last][r], mems[r], 1, o_ty))
                out_l2.append(object_fifo(f"out_l2_{r}", mems[r], shims[r], 1, o_ty, T.out_to_memtile()))
                object_fifo_link(out_l1[r], out_l2[r])
            for c in range(last):
                for r in range(T.rows):
                    cascade_flow(cores[c][r], cores[c + 1][r])

            # --- cores --------------------------------------------------------------------
            barriers = {}
            for c in range(T.cols):
                for r in range(T.rows):
                    t = cores[c][r]
                    rtp = buffer(t, rtp_ty, name=f"rtp_{c}_{r}", use_write_rtp=True)
                    barriers[(c, r)] = lock(t, lock_id=15, init=0, sym_name=f"go_{c}_{r}")
                    q = buffer(t, q_ty, name=f"q_{c}_{r}")
                    st = buffer(t, st_ty, name=f"state_{c}_{r}")
                    sc = buffer(t, sc_ty, name=f"scratch_{c}_{r}")
                    ctr = buffer(t, np.ndarray[(2,), np.dtype[np.int32]], name=f"ctr_{c}_{r}",
                                 initial_value=np.zeros(2, dtype=np.int32))
                    o_local = buffer(t, o_ty, name=f"o_{c}_{r}") if c != last else None

                    # The loops below run a run-time number of times (rtp words) with FIFO
                    # acquires inside: aiecc lowers them with --dynamic-objFifos (Makefile,
                    # patchmap.py), which tracks the object index at run time.
                    @core(t, *core_obj, stack_size=T.stack_bytes)
                    def core_body(c=c, r=r, rtp=rtp, q=q, st=st, sc=sc, ctr=ctr, o_local=o_local):
                        for _ in range_(0xFFFFFFFF):
                            # wait until the runtime sequence has written this call's parameters
                            use_lock(barriers[(c, r)], LockAction.AcquireGreaterEqual, value=1)
                            ctr[0] = 0
                            for _ in range_(rtp[R["N_GROUPS"]]):
                                o = out_l1[r].acquire(ObjectFifoPort.Produce, 1) if c == last else o_local
                                k_begin(o, st, rtp, ctr[0])
                                for j in range(T.q_objs):
                                    x = km_l1[c].acquire(ObjectFifoPort.Consume, 1)
                                    k_load_q(x, q, rtp, j)
                                    km_l1[c].release(ObjectFifoPort.Consume, 1)
                                ctr[1] = 0
                                for _ in range_(rtp[R["N_BLOCKS"]]):
                                    x = km_l1[c].acquire(ObjectFifoPort.Consume, 1)
                                    y = v_l1[c].acquire(ObjectFifoPort.Consume, 1)
                                    k_block(q, x, y, o, st, sc, rtp, ctr[1])
                                    km_l1[c].release(ObjectFifoPort.Consume, 1)
                                    v_l1[c].release(ObjectFifoPort.Consume, 1)
                                    ctr[1] = ctr[1] + 1
                                if c > 0:
                                    k_merge(o, st, sc)
                                if c < last:
                                    k_put(o, st)
                                else:
                                    k_end(o, st, sc)
                                    out_l1[r].release(ObjectFifoPort.Produce, 1)
                                ctr[0] = ctr[0] + 1

            # --- runtime sequence ---------------------------------------------------------
            # Host arguments: Q (f32), K, V (bf16/f16 cache views), mask (f16), out (f32),
            # tail (f32 scratch for the rows of a partial last group, copied by the host).
            @runtime_sequence(big, big, big, big, big, big)
            def sequence(Q, K, V, M, O, TAIL):
                for (c, r), words in call["rtp"].items():
                    for i, w in enumerate(words):
                        npu_rtp_write(f"rtp_{c}_{r}", i, int(w))
                for key in barriers:
                    set_lock_value(barriers[key], 1)
                n_bg = batch * kv_heads
                for w in range(n_groups):  # Q-tile-major, as the kernel's fa_group_begin
                    t4, bg = divmod(w, n_bg)
                    b, kvh = divmod(bg, kv_heads)
                    q0 = t4 * q_per_group  # the group's first query
                    tasks = []
                    for c in range(T.cols):
                        nb = call["blocks"][c]
                        key0 = call["kv_lo"] + c * T.bk
                        kv_row = call["off_k"] + (b * call["nb_k3"] + kvh * call["nb_k2"] + key0 * call["nb_k1"])
                        # Q: the group's q_per_group queries x G heads, f32 rows, then filler up to
                        # whole KM objects (a re-read of Q: any readable bytes do).
                        tq = dma_configure_task_for(f"km_l3_{c}")
                        with bds(tq) as bd:
                            with bd[0]:
                                dma_bd(Q, offset=call["off_q"] + b * call["nb_q3"] + (kvh * g) * call["nb_q2"] + q0 * call["nb_q1"],
                                       len=T.rows * T.bq * d * 4,
                                       dimensions=[(q_per_group, call["nb_q1"]), (g, call["nb_q2"]), (d * 4, 1)])
                                next_bd(bd[1])
                            with bd[1]:
                                dma_bd(Q, offset=call["off_q"], len=T.q_objs * T.km_bytes - T.rows * T.bq * d * 4)
                                EndOp()
                        dma_start_task(tq)
                        tasks.append(tq)
                        if nb > 0:
                            # K block + mask rows, one chain per block, repeated nb times; each
                            # descriptor's iteration dimension steps 4 blocks (this column's).
                            tk = dma_configure_task_for(f"km_l3_{c}", repeat_count=nb - 1)
                            with bds(tk) as bd:
                                with bd[0]:
                                    dma_bd(K, offset=kv_row, len=T.k_bytes,
                                           dimensions=[(nb, T.cols * T.bk * call["nb_k1"]), (T.bk, call["nb_k1"]), (d * 2, 1)])
                                    next_bd(bd[1])
                                with bd[1]:
                                    dma_bd(M, offset=call["off_mask"] + q0 * call["nb_mask1"] + key0 * 2,
                                           len=T.masks_bytes,
                                           dimensions=[(nb, T.cols * T.bk * 2), (T.rows * T.bq, call["nb_mask1"]), (T.bk * 2, 1)])
                                    EndOp()
                            dma_start_task(tk)
                            tasks.append(tk)
                            tv = dma_configure_task_for(f"v_l3_{c}", repeat_count=nb - 1)
                            with bds(tv) as bd:
                                with bd[0]:
                                    dma_bd(V, offset=kv_row - call["off_k"] + call["off_v"], len=T.v_bytes,
                                           dimensions=[(nb, T.cols * T.bk * call["nb_k1"]), (T.bk, call["nb_k1"]), (d * 2, 1)])
                                    EndOp()
                            dma_start_task(tv)
                            tasks.append(tv)
                    outs = []
                    for r in range(T.rows):
                        # tile r's rows: (query, head) -> out[head, query], f32 rows of d
                        p0 = (t4 * T.rows + r) * T.bq
                        full = (p0 + T.bq) <= rows
                        # a partial tile goes to this (batch, KV head)'s own tail slice
                        # (schedule.rs tail_offset: (bg * rows + r) * bq * d floats)
                        dst, off = (O, call["off_out"]) if full else (TAIL, (bg * T.rows + r) * T.bq * d * 4)
                        to = dma_configure_task_for(f"out_l2_{r}", issue_token=True)
                        with bds(to) as bd:
                            with bd[0]:
                                if full:
                                    i0, h0 = divmod(p0, g)
                                    dma_bd(dst, offset=off + b * call["nb_o3"] + i0 * call["nb_o2"] + (kvh * g + h0) * d * 4,
                                           len=T.bq * d * 4,
                                           dimensions=[(T.bq // g, call["nb_o2"]), (g, d * 4), (d * 4, 1)])
                                else:
                                    dma_bd(dst, offset=off, len=T.bq * d * 4)
                                EndOp()
                        dma_start_task(to)
                        outs.append(to)
                    # One group at a time: its outputs awaited, its input tasks freed (shim BDs
                    # are reused by the next group).
                    dma_await_task(*outs)
                    dma_free_task(*tasks)

        return ctx.module


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-d", type=int, choices=(64, 128, 256), required=True)
    ap.add_argument("--kv-heads", type=int, required=True)
    ap.add_argument("--g", type=int, required=True, help="query heads per KV head")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--q", type=int, required=True, help="query rows per call (1: decode)")
    ap.add_argument("--call", help="JSON file with the per-call values (patchmap.py writes them)")
    args = ap.parse_args()
    import json

    from patchmap import decode_call, default_call

    T = Tiling.of(args.d)
    call = decode_call(json.load(open(args.call))) if args.call else default_call(T, args.kv_heads, args.g, args.batch, args.q)
    print(build(args.d, args.kv_heads, args.g, args.batch, args.q, call))


if __name__ == "__main__":
    main()
