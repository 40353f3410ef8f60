#!/usr/bin/env python3
"""One table from two `test-backend-ops perf` logs of the same cases on the same machine:
time per run of each case on both backends, their ratio (peer time / our time, so > 1 means
we are faster), and our achieved bandwidth against a device-to-device copy measured in the
same run.

usage: perf-compare.py OURS.log PEER.log [COPY_GBPS] [--filter REGEX]
"""
import re
import sys

LINE = re.compile(r"^\s*(?P<case>[A-Z_0-9]+\(.*?\)):\s+(?P<runs>\d+) runs -\s+(?P<us>[0-9.]+) us/run -\s+"
                  r"(?P<amount>[0-9.]+) (?P<unit>[kMGT]?B|[kMGT]?FLOP)/run -\s+(?P<rate>[0-9.]+) (?P<rate_unit>\S+)")


def cases(path: str) -> dict:
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(re.sub(r"\x1b\[[0-9;]*m", "", line))
            if m:
                out[m["case"]] = m
    return out


# Bytes per weight of the types Unicorn runs (ggml block size / elements per block).
BPW = {"f32": 4, "f16": 2, "bf16": 2, "q4_0": 18 / 32, "q5_0": 22 / 32, "q8_0": 34 / 32,
       "q4_K": 144 / 256, "q5_K": 176 / 256, "q6_K": 210 / 256}


def weight_gbps(case: str, us: float) -> float | None:
    """Weight bytes streamed per second by a MUL_MAT with few columns (a mat-vec reads the
    weight matrix once; activations and output are small beside it)."""
    m = re.match(r"MUL_MAT\(type_a=(\w+),type_b=f32,m=(\d+),n=(\d+),k=(\d+)", case)
    if not m or m[1] not in BPW or int(m[3]) > 8:
        return None
    return int(m[2]) * int(m[4]) * BPW[m[1]] / (us * 1e-6) / 1e9


def short(case: str) -> str:
    keep = ("type_a", "m", "n", "k", "hsk", "nh", "nr", "kv", "nb", "type_K", "type", "ne")
    inner = case[case.index("(") + 1:-1]
    parts = [p for p in re.split(r",(?![^\[]*\])", inner) if p.split("=")[0] in keep]
    return f"{case[:case.index('(')]}({','.join(parts)})"


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--filter")]
    filt = next((re.compile(a.split("=", 1)[1]) for a in sys.argv[1:] if a.startswith("--filter=")), None)
    if len(args) < 2:
        sys.exit(__doc__)
    ours, peer = cases(args[0]), cases(args[1])
    copy = float(args[2]) if len(args) > 2 else None
    rows = []
    for case, o in ours.items():
        if filt and not filt.search(case):
            continue
        p = peer.get(case)
        us_o = float(o["us"])
        us_p = float(p["us"]) if p else None
        bw = ""
        gbps = float(o["rate"]) if o["rate_unit"] == "GB/s" else weight_gbps(case, us_o)
        rate = o["rate"] + " " + o["rate_unit"] if gbps is None else f"{gbps:.0f} GB/s"
        if gbps is not None and copy:
            bw = f"{100 * gbps / copy:.0f}%"
        rows.append((short(case), us_o, us_p, rate, bw))
    print(f"| case | Unicorn us | peer us | ratio (peer/ours) | Unicorn rate | of copy BW |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, uo, up, rate, bw in rows:
        ratio = f"{up / uo:.2f}" if up else "-"
        print(f"| {name} | {uo:.1f} | {up if up is None else f'{up:.1f}'} | {ratio} | {rate} | {bw} |")
    missing = [c for c in peer if c not in ours and (not filt or filt.search(c))]
    if missing:
        print(f"\n{len(missing)} peer case(s) not run by Unicorn (not supported): " + "; ".join(short(c) for c in missing[:8]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
