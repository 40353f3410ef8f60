#!/usr/bin/env python3
"""Checks that the NPU kernel uses only the AIE API of the pinned release.

1. Every `aie::NAME`, accumulator/vector member call and AIE intrinsic in
   kernels/npu/flash_attn_ext/flash_attn_ext.cc is on kernels/npu/aie_host/aie_api_used.txt
   (the checked list: declaration, file and line in the pinned aie_api / llvm-aie sources);
   names marked `!` there (the release lacks them on AIE2) must not appear.
2. aie_host (the host build's stand-in) rejects what the release lacks: each snippet below must
   fail to compile against kernels/npu/aie_host, and the allowed forms must compile.
3. With --aie-api DIR (an aie_api checkout or the installed wheel's include dir's parent): every
   listed declaration is found in DIR at its file (within 40 lines of the listed line).

Exit 0 when all hold; 1 with one line per violation otherwise.
"""
import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KERNEL = REPO / "kernels/npu/flash_attn_ext/flash_attn_ext.cc"
LIST = REPO / "kernels/npu/aie_host/aie_api_used.txt"
HOST = REPO / "kernels/npu/aie_host"

MEMBERS = ("cast_to", "extract", "full", "from_vector", "to_vector", "mul", "mac")
INTRINSICS = ("put_mcd", "get_scd_v16accfloat", "v16accfloat", "chess_prepare_for_pipelining")

# (what, code, must compile?) against aie_host: the forms the release lacks must not compile.
SNIPPETS = [
    ("bit_and(vector, scalar)", "auto r = aie::bit_and(vi, (int32)1);", False),
    ("bit_or(vector, scalar)", "auto r = aie::bit_or(vi, (int32)1);", False),
    ("from_vector's result used (it returns void)", "acc16 a; auto r = a.from_vector(vf);", False),
    ("a member on native v16accfloat", "auto r = get_scd_v16accfloat().to_vector<float>();", False),
    ("aie::exp2 (XDNA 2 only)", "auto r = aie::exp2(vf);", False),
    ("bit operation on float lanes", "auto r = aie::bit_and(vf, vf);", False),
    ("bit_and(scalar, vector)", "auto r = aie::bit_and((int32)1, vi); (void)r;", True),
    ("accum <-> v16accfloat", "acc16 a(vf); put_mcd(a); acc16 b(get_scd_v16accfloat()); (void)b;", True),
]


def load_list():
    allowed, banned, entries = set(), set(), []
    for ln in LIST.read_text().splitlines():
        if not ln.strip() or ln.startswith("#"):
            continue
        name, where, decl = ln.split("\t")
        if name.startswith("!"):
            banned.add(name[1:])
        else:
            allowed.add(name)
        entries.append((name.lstrip("!"), where, decl))
    return allowed, banned, entries


def kernel_uses(text):
    code = re.sub(r"//[^\n]*", "", text)
    used = set(re.findall(r"\baie::[A-Za-z_]\w*", code))
    for m in MEMBERS:
        if re.search(r"\.\s*(template\s+)?" + m + r"\b", code):
            used.add("." + m)
    for i in INTRINSICS:
        if re.search(r"\b" + i + r"\b", code):
            used.add(i)
    return used


def compile_snippet(code):
    cxx = shutil.which("g++") or shutil.which("clang++")
    if not cxx:
        return None
    src = ("#include <aie_api/aie.hpp>\nusing acc16 = aie::accum<accfloat, 16>;\n"
           "void f(aie::vector<float, 16> vf, aie::vector<int32, 16> vi) { (void)vf; (void)vi; " + code + " }\n")
    with tempfile.NamedTemporaryFile("w", suffix=".cc", delete=False) as f:
        f.write(src)
    r = subprocess.run([cxx, "-std=c++17", "-fsyntax-only", "-I", str(HOST), f.name], capture_output=True, text=True)
    Path(f.name).unlink()
    return r.returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aie-api", type=Path, help="aie_api checkout (has include/aie_api) to re-check the list against")
    args = ap.parse_args()
    allowed, banned, entries = load_list()
    bad = []
    used = kernel_uses(KERNEL.read_text())
    for u in sorted(used):
        if u in banned:
            bad.append(f"{KERNEL.name}: {u} is not in the pinned AIE API for AIE2 ({LIST.name})")
        elif u not in allowed:
            bad.append(f"{KERNEL.name}: {u} is not on the checked list {LIST.relative_to(REPO)}")
    n_snip = 0
    for what, code, ok in SNIPPETS:
        got = compile_snippet(code)
        if got is None:
            bad.append("no C++ compiler (g++ or clang++) to check aie_host")
            break
        n_snip += 1
        if got != ok:
            bad.append(f"aie_host {'rejects' if ok else 'accepts'} {what} (the release {'has' if ok else 'lacks'} it)")
    n_decl = 0
    if args.aie_api:
        for name, where, decl in entries:
            if not where.startswith("include/"):
                continue
            file, _, line = where.partition(":")
            path = args.aie_api / file
            if not path.is_file():
                bad.append(f"{name}: {path} missing")
                continue
            lines = path.read_text(errors="replace").splitlines()
            at = int(line) if line else None
            window = lines[max(0, at - 41):at + 40] if at else lines
            if not any(decl in ln for ln in window):
                bad.append(f"{name}: {decl!r} not found in {file}{' near line ' + line if line else ''}")
            n_decl += 1
    for b in bad:
        print(f"npu-check-aie-api: {b}")
    print(f"npu-check-aie-api: {len(used)} AIE API names in the kernel, all on the list; "
          f"{n_snip} aie_host strictness snippets; {n_decl} declarations re-checked against "
          f"{args.aie_api or '(no --aie-api)'}" if not bad else f"npu-check-aie-api: {len(bad)} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
