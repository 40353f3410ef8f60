"""What the plugin's placement decided, read from its log, and the device each attention node is
expected on (so the tests hold against whatever placement a machine chose: the emulation's
default puts every FLASH_ATTN_EXT on the NPU; `UNICORN_ATTN=auto` decides per phase and logs
its verdict, backend/unicorn/src/placement.rs).

The verdict line: `unicorn: placement (UNICORN_ATTN=auto) for attention D=256 heads=4/1 bf16
n_kv=256: decode on UNICORN_NPU0, prefill on UNICORN_IGPU0 (source)`.

A node's phase is read from its output size in the scheduler dump: FLASH_ATTN_EXT's output is
[Dv, n_head, n_q] f32, so its size is proportional to n_q; the smallest output among a run's
attention nodes is one query row (a run that decodes at least one token), and a node of at most
DECODE_MAX_Q (4) times that is decode, as placement.rs's Phase::of.
"""

from __future__ import annotations

import re

from sched_debug import Graph

VERDICT = re.compile(r"placement \(UNICORN_ATTN=auto\) for attention .*?: decode on (\S+), prefill on (\S+) \((.*)\)")
DECODE_MAX_Q = 4
_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]?)$")


def verdict(log: str) -> tuple[str, str, str] | None:
    """(decode device, prefill device, source) of the last verdict the plugin logged, if any."""
    found = VERDICT.findall(log)
    return found[-1] if found else None


def size_bytes(size: str) -> int:
    m = _SIZE.match(size)
    assert m, f"unexpected size {size!r} in the scheduler dump"
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)]


def expected_attention(graphs: list[Graph], log: str, default: str) -> list[tuple[int, object, str, str]]:
    """(graph index, node, phase, expected device) for every FLASH_ATTN_EXT node: per phase by
    the logged verdict, else `default` (the device the fixed placement names)."""
    fa = [(gi, n) for gi, g in enumerate(graphs) for n in g.nodes if n.op == "FLASH_ATTN_EXT"]
    v = verdict(log)
    if not fa:
        return []
    one_row = min(size_bytes(n.size) for _, n in fa)
    out = []
    for gi, n in fa:
        phase = "decode" if size_bytes(n.size) <= DECODE_MAX_Q * one_row else "prefill"
        want = default if v is None else (v[0] if phase == "decode" else v[1])
        out.append((gi, n, phase, want))
    return out
