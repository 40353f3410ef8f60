#!/usr/bin/env python3
"""The emulated Unicorn path under valgrind memcheck: a completion, a server request and a
subset of test-backend-ops on both devices. Errors are split by where they happen: an error
with a frame in libggml-unicorn.so is the plugin's; the rest are reported apart (llama.cpp,
ggml-cpu, libgomp, libc). Leaks are counted as memcheck reports them ("definitely lost").

    scripts/memcheck.py [--out DIR]          (about 10-20 minutes on 2 cores)

Exit 1 if any error (or definite leak) has a frame in the plugin. Needs valgrind (Debian
package) and build/bin as scripts/setup-llama.sh and build_all leave it.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "build" / "bin"
PLUGIN = "libggml-unicorn.so"
VALGRIND = ["valgrind", "--tool=memcheck", "--error-limit=no", "--num-callers=40", "--leak-check=full",
            "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite", "--child-silent-after-fork=yes"]


TBO_IGPU_CASES = "|".join([
    r"ne=\[10,10,10,10\]",
    r"type_a=(q4_K|bf16|f16|q8_0),type_b=f32,m=16,n=(1|9),k=256,bs=\[1,1\],nr=\[1,1\],per=\[0,1,2,3\],k_v=0",
    r"ne_a=\[128,32,2,1\],n_dims=128,mode=0,n_ctx=512,fs=1.000000,ef=0.000000",
    r"ne=\[64,5,4,3\],v=0", r"type=f32,n=256,m=5,r=4", r"type_idx=i32,ne=\[1,8,1,3\]",
    r"ne_a=\[128,2,2,2\],v=0", r"ne=\[1,1,8,1\],nr=\[1,1,1,1\]", r"ne_src=\[1,2,3,4\],permute_src=\[0,0,0,0\]",
])


def env() -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("UNICORN_", "GGML_", "LLAMA_ARG_"))}
    e.update(UNICORN_EMULATE="1", GGML_CPU_USE_REF="1")
    return e


def model() -> Path:
    out = subprocess.run(["bash", str(REPO / "scripts" / "fetch-model.sh")], capture_output=True, text=True, check=True)
    return Path(out.stdout.split()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(name: str, cmd: list[str], out: Path, server: bool = False) -> Path:
    xml = out / f"{name}.xml"
    full = VALGRIND + [f"--xml=yes", f"--xml-file={xml}"] + cmd
    print(f"$ {' '.join(map(str, full))}", flush=True)
    t0 = time.monotonic()
    with open(out / f"{name}.log", "wb") as log:
        p = subprocess.Popen(full, stdout=log, stderr=subprocess.STDOUT, env=env(), start_new_session=True)
        if server:
            import requests
            port = int(cmd[cmd.index("--port") + 1])
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 1800
            while time.monotonic() < deadline and p.poll() is None:
                try:
                    if requests.get(url + "/health", timeout=5).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                time.sleep(2)
            r = requests.post(url + "/completion", json={"prompt": "The capital of France is", "n_predict": 4,
                                                         "temperature": 0}, timeout=1800)
            print(f"  server answered HTTP {r.status_code}: {r.json().get('content')!r}", flush=True)
            os.killpg(p.pid, signal.SIGTERM)
        rc = p.wait(timeout=3600)
    print(f"  -> exit {rc} in {time.monotonic() - t0:.0f} s", flush=True)
    return xml


def classify(xml: Path) -> tuple[Counter, list[str]]:
    """(counts by (side, kind), descriptions of the plugin's errors)."""
    counts, plugin = Counter(), []
    root = ET.parse(xml).getroot()
    for err in root.iter("error"):
        kind = err.findtext("kind")
        objs = [f.findtext("obj") or "" for f in err.iter("frame")]
        fns = [f.findtext("fn") or "?" for f in err.iter("frame")]
        side = "plugin" if any(o.endswith(PLUGIN) for o in objs) else "other"
        counts[(side, kind)] += 1
        if side == "plugin":
            what = err.findtext("what") or (err.find("xwhat").findtext("text") if err.find("xwhat") is not None else "")
            plugin.append(f"{kind}: {what}\n      " + "\n      ".join(fns[:12]))
        elif counts[(side, kind)] <= 2:
            print(f"  (other) {kind}: {' <- '.join(fns[:6])}", flush=True)
    return counts, plugin


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("/tmp/unicorn-memcheck"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    m = model()
    common = ["-t", "2", "-fit", "off", "--no-log-prefix", "--no-log-timestamps", "--log-colors", "off",
              "--backend", "unicorn", "-nr", "-c", "128"]
    runs = {
        "completion": run("completion", [BIN / "llama-completion", "-m", m, "-p", "The capital of France is", "-n", "4",
                                         "--temp", "0", "-no-cnv"] + common, args.out),
        "server": run("server", [BIN / "llama-server", "-m", m, "--host", "127.0.0.1", "--port", str(free_port()),
                                 "-np", "1", "--no-webui"] + common, args.out, server=True),
        # 70 cases of the Gemma ops (a few shapes each; the whole suite would take hours under valgrind)
        "tbo-igpu": run("tbo-igpu", [BIN / "test-backend-ops", "test", "-b", "UNICORN_IGPU0", "-o",
                                     "MUL_MAT,RMS_NORM,ROPE,GET_ROWS,SET_ROWS,GELU,MUL,ADD,SCALE,CPY",
                                     "-p", TBO_IGPU_CASES], args.out),
        "tbo-npu": run("tbo-npu", [BIN / "test-backend-ops", "test", "-b", "UNICORN_NPU0", "-o", "FLASH_ATTN_EXT",
                                   "-p", r"hsk=64,hsv=64,nh=4,nr23=\[1,1\],kv=512,nb=(1|3),"], args.out),
    }
    bad = 0
    for name, xml in runs.items():
        counts, plugin = classify(xml)
        n_plugin = sum(v for (side, _), v in counts.items() if side == "plugin")
        n_other = sum(v for (side, _), v in counts.items() if side == "other")
        kinds = ", ".join(f"{k} {v}" for (side, k), v in sorted(counts.items()) if side == "other") or "none"
        print(f"{name}: {n_plugin} errors with a plugin frame; {n_other} elsewhere ({kinds})", flush=True)
        for p in plugin[:10]:
            print("    " + p)
        bad += n_plugin
    print(f"memcheck: {bad} errors in the plugin's frames (logs and XML in {args.out})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
