#!/usr/bin/env python3
"""The case files mirror Rust code (each op's select() and gpu(): the args and the launch the
kernels get). This keeps them honest: every case file names what it mirrors in lines

    // kt-mirrors: ops/mul_mat.rs: select gpu gpu_vec vec_rows MMA_BM

(paths under backend/unicorn/src/; names of functions, methods or consts), and mirrors.lock
holds a hash of that Rust text per case file. `check` fails when the Rust side changed since
the mirror was last compared with it; after updating the mirror, `update` records the new hash.

    tests/kernels/mirrors.py check|update
"""
import hashlib
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
SRC = HERE.parent.parent / "backend" / "unicorn" / "src"
LOCK = HERE / "mirrors.lock"
ITEM = re.compile(r"^(\s*)(?:pub(?:\([a-z]+\))?\s+)?(?:const\s+|fn\s+)([A-Za-z0-9_]+)")


def extract(path: pathlib.Path, name: str) -> str:
    """The text of fn or const `name` in `path`: from its line to the brace closing it at its
    own indentation (a const: its line). Raises when not found."""
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        m = ITEM.match(line)
        if not m or m.group(2) != name:
            continue
        if re.match(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?const\s", line) or line.rstrip().endswith(";"):
            return line
        close = m.group(1) + "}"
        for j in range(i + 1, len(lines)):
            if lines[j].rstrip() == close:
                return "\n".join(lines[i : j + 1])
        break
    raise SystemExit(f"mirrors: {name} not found in {path.relative_to(SRC.parent.parent.parent)}")


def digest(case: pathlib.Path) -> str | None:
    specs = re.findall(r"^// kt-mirrors: (\S+): (.+)$", case.read_text(), re.M)
    if not specs:
        return None
    h = hashlib.sha256()
    for rel, names in specs:
        for name in names.split():
            h.update(f"{rel}:{name}\n{extract(SRC / rel, name)}\n".encode())
    return h.hexdigest()[:16]


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "check"
    now = {c.stem: d for c in sorted(HERE.glob("*.cpp")) if (d := digest(c))}
    if mode == "update":
        LOCK.write_text("".join(f"{op} {d}\n" for op, d in now.items()))
        print(f"mirrors: {LOCK.name} updated ({len(now)} case files)")
        return 0
    locked = dict(l.split() for l in LOCK.read_text().splitlines() if l.strip()) if LOCK.exists() else {}
    stale = [op for op, d in now.items() if locked.get(op) != d]
    for op in stale:
        print(f"mirrors: the Rust code tests/kernels/{op}.cpp mirrors (its kt-mirrors lines) changed since the "
              f"mirror was last compared with it: bring the mirror in line, then run tests/kernels/mirrors.py update")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
