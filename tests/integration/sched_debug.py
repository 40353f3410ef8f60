"""Parser for the ggml scheduler's split/assignment dump (GGML_SCHED_DEBUG).

How to get the dump out of the llama.cpp tools
----------------------------------------------
`ggml_backend_sched_print_assignments()` (ggml/src/ggml-backend.cpp) runs on every graph split
when the env variable GGML_SCHED_DEBUG is >= 1 (>= 2 adds one line per node). It prints through
GGML_LOG_DEBUG, and the common tools drop debug-level messages unless the log verbosity is 5
(`-lv 5`, same as `--verbosity 5`; `-v` = infinite also works). Every fragment printed by that
function is a separate log entry, so the per-entry prefix and timestamp must be switched off
(`--no-log-prefix --no-log-timestamps`) or they land in the middle of the lines; colours are
switched off too (`--log-colors off`). The dump goes to stderr. See SCHED_DEBUG_ARGS/ENV.

Format (pinned llama.cpp)
-------------------------
    \\n## SPLIT #<i>: <backend name> # <n> inputs[: [<input name> (<size>)] ...]\\n
    node #%3d (%10.10s): %20.20s (%5.5s) [%5.5s %8.8s] use=%d,c=%d:[ %20.20s (%5.5s) [%5.5s %8.8s]]...\\n
The split header carries the FULL backend name; in the node lines the op description is cut to
10 characters (FLASH_ATTN_EXT prints as "FLASH_ATTN"), node and source names to 20 and the backend
name to 5 ("UNICORN_NPU0" and "UNICORN_IGPU0" both print as "UNICO"). A node's backend is
therefore taken from the split it sits in (the scheduler keeps each split on one backend); the
5-character name on the node line is kept as a cross-check (`Node.backend_short`). View ops are
not printed. A fresh dump (one per scheduled graph: reserve, warm-up, prompt, each token...) starts
at "## SPLIT #0".
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

# Arguments for the common tools (completion, cli, server, perplexity) and the environment that
# make them print the dump: PLAIN_LOG_ARGS + SCHED_DEBUG_ARGS, env SCHED_DEBUG_ENV.
PLAIN_LOG_ARGS = ["--no-log-prefix", "--no-log-timestamps", "--log-colors", "off"]
SCHED_DEBUG_ARGS = ["-lv", "5"]
SCHED_DEBUG_ENV = {"GGML_SCHED_DEBUG": "2"}

# ggml_op_desc() cut to 10 characters -> the full op name, where the cut makes it ambiguous-looking.
_OP_FULL = {
    "FLASH_ATTN": "FLASH_ATTN_EXT",
    "SOFT_MAX_B": "SOFT_MAX_BACK",
    "GET_ROWS_B": "GET_ROWS_BACK",
    "SSM_CONV": "SSM_CONV",
    "MUL_MAT_ID": "MUL_MAT_ID",
}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# common_log prefix "M.SS.mmm.uuu L " (only when --log-prefix/--log-timestamps are left on)
_PREFIX = re.compile(r"\d+\.\d{2}\.\d{3}\.\d{3} [DIWE] ")
_SPLIT = re.compile(r"^## SPLIT #(\d+): (.+?) # (\d+) inputs(?:: ?(.*))?$")
_INPUT = re.compile(r"\[(.+?) \(\s*(\d+[KM])\)\]")
_NODE = re.compile(
    r"^node #\s*(\d+) \((.{10})\): (.{20}) \((.{5})\) \[(.{5}) (.{8})\] use=(-?\d+),c=(\d+):(.*)$"
)
_SRC = re.compile(r" (.{20}) \((.{5})\) \[(.{5}) (.{8})\]")

FFN_NODE = re.compile(r"^ffn_(up|gate|down|out)(_\w+)?-\d+$")
FFN_WEIGHT = re.compile(r"^blk\.\d+\.ffn_(up|gate|down)")


@dataclass
class Src:
    name: str  # cut to 20 characters
    size: str
    backend_short: str  # cut to 5 characters


@dataclass
class Node:
    index: int
    op: str  # full op name where known (FLASH_ATTN -> FLASH_ATTN_EXT), else as printed
    op_printed: str  # as printed (max 10 characters)
    name: str  # cut to 20 characters
    size: str
    backend: str  # full name, from the enclosing split
    backend_short: str  # as printed on the node line (max 5 characters)
    srcs: list[Src] = field(default_factory=list)

    @property
    def is_ffn_matmul(self) -> bool:
        """A MUL_MAT of the feed-forward block: named ffn_up-N / ffn_gate-N / ffn_down-N (llama.cpp
        names the down projection's result ffn_out-N for some models) or using a blk.N.ffn_* weight."""
        if self.op != "MUL_MAT":
            return False
        return bool(FFN_NODE.match(self.name)) or any(FFN_WEIGHT.match(s.name) for s in self.srcs)


@dataclass
class Split:
    index: int
    backend: str
    n_inputs: int  # tensors copied into this split from other backends
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (name, size)
    nodes: list[Node] = field(default_factory=list)


@dataclass
class Graph:
    splits: list[Split] = field(default_factory=list)

    @property
    def nodes(self) -> list[Node]:
        return [n for s in self.splits for n in s.nodes]

    @property
    def n_inputs(self) -> int:
        return sum(s.n_inputs for s in self.splits)

    def summary(self) -> dict:
        per_backend = Counter(n.backend for n in self.nodes)
        per_op_backend = Counter((n.op, n.backend) for n in self.nodes)
        return {
            "nodes": len(self.nodes),
            "nodes_per_backend": dict(per_backend),
            "splits": len(self.splits),
            "split_backends": [s.backend for s in self.splits],
            "split_inputs": self.n_inputs,  # = tensor copies between backends
            "flash_attn_per_backend": {b: c for (op, b), c in per_op_backend.items() if op == "FLASH_ATTN_EXT"},
            "mul_mat_per_backend": {b: c for (op, b), c in per_op_backend.items() if op == "MUL_MAT"},
        }

    def one_line(self) -> str:
        s = self.summary()
        per = ", ".join(f"{b}={c}" for b, c in sorted(s["nodes_per_backend"].items()))
        return f"{s['nodes']} nodes ({per}); {s['splits']} splits; {s['split_inputs']} split inputs (copies)"


def clean(text: str) -> str:
    return _PREFIX.sub("", _ANSI.sub("", text))


def parse_sched_debug(text: str) -> list[Graph]:
    """All scheduler dumps found in `text` (a tool's stderr, or stdout+stderr), in order.

    Lines that are not part of a dump are ignored, so the whole log can be passed in."""
    graphs: list[Graph] = []
    cur_split: Split | None = None
    for raw in clean(text).splitlines():
        line = raw.rstrip("\n")
        m = _SPLIT.match(line)
        if m:
            idx, backend, n_inputs, rest = int(m.group(1)), m.group(2).strip(), int(m.group(3)), m.group(4) or ""
            if idx == 0 or not graphs:
                graphs.append(Graph())
            cur_split = Split(idx, backend, n_inputs, [(a.strip(), b) for a, b in _INPUT.findall(rest)])
            graphs[-1].splits.append(cur_split)
            continue
        m = _NODE.match(line)
        if m and cur_split is not None:
            op_printed = m.group(2).strip()
            node = Node(
                index=int(m.group(1)),
                op=_OP_FULL.get(op_printed, op_printed),
                op_printed=op_printed,
                name=m.group(3).strip(),
                size=m.group(4).strip(),
                backend=cur_split.backend,
                backend_short=m.group(5).strip(),
                srcs=[Src(a.strip(), b.strip(), c.strip()) for a, b, c, _ in _SRC.findall(m.group(9))],
            )
            cur_split.nodes.append(node)
    return graphs


def inconsistent_nodes(graphs: list[Graph]) -> list[tuple[int, Node]]:
    """Nodes whose 5-character backend on the node line does not fit the split's backend."""
    bad = []
    for gi, g in enumerate(graphs):
        for n in g.nodes:
            if n.backend_short != n.backend[:5].strip():
                bad.append((gi, n))
    return bad


def format_summary(graphs: list[Graph], label: str = "") -> str:
    lines = [f"scheduler dumps{(' (' + label + ')') if label else ''}: {len(graphs)} graphs"]
    for i, g in enumerate(graphs):
        lines.append(f"  graph {i}: {g.one_line()}")
    return "\n".join(lines)


def placement_table(graph: Graph) -> str:
    """Op counts per backend for one graph, e.g. for the demo's placement summary."""
    counts = Counter((n.backend, n.op) for n in graph.nodes)
    lines = []
    for b in sorted({b for b, _ in counts}):
        ops = [(op, c) for (bb, op), c in counts.most_common() if bb == b]
        lines.append(f"  {b:14s} " + ", ".join(f"{op} x{c}" for op, c in ops))
    return "\n".join(lines)


if __name__ == "__main__":
    # Summarise a GGML_SCHED_DEBUG=2 log read from stdin (used by scripts/run.sh).
    import sys

    graphs = parse_sched_debug(sys.stdin.read())
    if not graphs:
        print("no scheduler output found (run with GGML_SCHED_DEBUG=2 -lv 5)")
        sys.exit(1)
    g = max(graphs, key=lambda g: len(g.nodes))
    print(f"largest graph: {g.one_line()}")
    print(placement_table(g))
